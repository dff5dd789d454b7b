// The model gateway in process: /model/* in front of a loopback upstream (the fake Anthropic API, or a hand-made
// one that pauses mid-stream / answers 529 / is down). Tokens, forwarding, streaming, errors, abuse.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { loadConfig } from "../../src/config.ts";
import type { ModelExchange } from "../../src/gateway/route.ts";
import { createModelGatewayRoutes, MAX_MODEL_REQUEST_BYTES, OAUTH_BETA } from "../../src/gateway/route.ts";
import { ModelTokenStore } from "../../src/gateway/tokens.ts";
import { createLogger } from "../../src/log.ts";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { startFakeAnthropic } from "../fakes/anthropic.ts";
import { FakeClock, TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY } from "../helpers/context.ts";

const PLATFORM_KEY = "sk-ant-api03-platform-key-for-gateway-tests";
const PLATFORM_OAUTH = "sk-ant-oat01-platform-oauth-for-gateway-tests";

interface Gateway {
  url: string;
  tokens: ModelTokenStore;
  clock: FakeClock;
  exchanges: ModelExchange[];
  logs: string[];
  stop(): void;
}

function startGateway(
  upstreamUrl: string,
  auth: Record<string, string> = { ANTHROPIC_API_KEY: PLATFORM_KEY },
): Gateway {
  const config = loadConfig(
    {
      DATA_DIR: "/nonexistent-gateway-test",
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
      ANTHROPIC_BASE_URL: upstreamUrl,
      ...auth,
    },
    { generateSecrets: false },
  );
  const clock = new FakeClock();
  const tokens = new ModelTokenStore(clock, 60_000);
  const exchanges: ModelExchange[] = [];
  const logs: string[] = [];
  const app = new Hono();
  createModelGatewayRoutes({
    config,
    tokens,
    log: createLogger({ level: "debug", write: (line) => logs.push(line) }),
    observe: (exchange) => {
      exchanges.push(exchange);
      return exchange.body;
    },
  }).mount(app, new Hono());
  app.notFound((c) => c.json({ error: "not found" }, 404));
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, idleTimeout: 30 });
  return {
    url: `http://127.0.0.1:${server.port}/model`,
    tokens,
    clock,
    exchanges,
    logs,
    stop: () => void server.stop(true),
  };
}

const messageBody = JSON.stringify({
  model: "claude-sonnet-4-5",
  max_tokens: 10,
  stream: true,
  messages: [{ role: "user", content: "hello" }],
});

function post(gateway: Gateway, token: string | null, extra: Record<string, string> = {}, body = messageBody) {
  return fetch(`${gateway.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
      ...(token ? { "x-api-key": token } : {}),
      ...extra,
    },
    body,
  });
}

describe("model gateway: tokens", () => {
  let fake: FakeAnthropic;
  let gateway: Gateway;
  beforeAll(() => {
    fake = startFakeAnthropic();
    gateway = startGateway(fake.url);
  });
  afterAll(async () => {
    gateway.stop();
    await fake.stop();
  });

  test("no token, a wrong one, a revoked one (the run ended) or an expired one → 401 in Anthropic's shape; nothing forwarded", async () => {
    const issued = gateway.tokens.issue("tenant-a", "run-1");
    const expired = gateway.tokens.issue("tenant-a", "run-2");
    fake.reset();
    issued.revoke();
    gateway.clock.advance(60_001);
    for (const token of [null, "sk-ant-wrong", `${issued.token}x`, issued.token, expired.token]) {
      const res = await post(gateway, token);
      expect(res.status).toBe(401);
      const body = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(body.type).toBe("error");
      expect(body.error.type).toBe("authentication_error");
    }
    // A Bearer token is checked the same way.
    const bearer = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${issued.token}` },
    });
    expect(bearer.status).toBe(401);
    expect(fake.requests).toHaveLength(0);
    expect(gateway.logs.join("\n")).not.toContain(issued.token);
  });

  test("binding: a token answers for the tenant and run it was issued to, whatever the request says", async () => {
    const a = gateway.tokens.issue("tenant-a", "run-a");
    const b = gateway.tokens.issue("tenant-b", "run-b");
    expect(a.token).not.toBe(b.token);
    expect(a.token).toMatch(/^psm-[A-Za-z0-9_-]{43}$/);
    gateway.exchanges.length = 0;
    const res = await post(gateway, a.token, { "x-tenant-id": "tenant-b", "x-run-id": "run-b" });
    expect(res.status).toBe(200);
    await res.text();
    expect(gateway.exchanges.map((e) => e.caller)).toEqual([{ tenantId: "tenant-a", runId: "run-a" }]);
    // Revoking A's run leaves B's alive, and A's token never turns into B's.
    a.revoke();
    expect(gateway.tokens.resolve(a.token)).toBeNull();
    expect(gateway.tokens.resolve(b.token)).toEqual({ tenantId: "tenant-b", runId: "run-b" });
    expect((await post(gateway, a.token)).status).toBe(401);
    b.revoke();
  });
});

describe("model gateway: forwarding", () => {
  let fake: FakeAnthropic;
  beforeAll(() => {
    fake = startFakeAnthropic();
  });
  afterAll(async () => {
    await fake.stop();
  });

  test("an API key: x-api-key is the platform's, the run token never reaches the API; other headers, path and query pass", async () => {
    const gateway = startGateway(fake.url);
    try {
      const { token, revoke } = gateway.tokens.issue("tenant-a", "run-1");
      fake.reset();
      const res = await post(gateway, token, { connection: "keep-alive", "x-claude-code-session-id": "s-1" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/event-stream");
      expect(await res.text()).toContain("message_stop");
      const seen = fake.requests[0]!;
      expect(seen.path).toBe("/v1/messages?beta=true");
      expect(seen.headers["x-api-key"]).toBe(PLATFORM_KEY);
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers["anthropic-version"]).toBe("2023-06-01");
      expect(seen.headers["anthropic-beta"]).toBe("claude-code-20250219,interleaved-thinking-2025-05-14");
      expect(seen.headers["x-claude-code-session-id"]).toBe("s-1");
      expect(JSON.stringify(fake.requests)).not.toContain(token);
      expect(seen.raw).toBe(messageBody);
      revoke();
    } finally {
      gateway.stop();
    }
  });

  test("an OAuth token: Authorization Bearer plus the oauth beta the CLI itself sends, no x-api-key", async () => {
    const gateway = startGateway(fake.url, { CLAUDE_CODE_OAUTH_TOKEN: PLATFORM_OAUTH });
    try {
      const { token } = gateway.tokens.issue("tenant-a", "run-1");
      fake.reset();
      const res = await post(gateway, token);
      expect(res.status).toBe(200);
      await res.text();
      const seen = fake.requests[0]!;
      expect(seen.headers.authorization).toBe(`Bearer ${PLATFORM_OAUTH}`);
      expect(seen.headers["x-api-key"]).toBeUndefined();
      expect(seen.headers["anthropic-beta"]?.split(",")).toEqual([
        OAUTH_BETA,
        "claude-code-20250219",
        "interleaved-thinking-2025-05-14",
      ]);
    } finally {
      gateway.stop();
    }
  });

  test("upstream errors pass through unchanged (529, 429 with its headers, 400)", async () => {
    const gateway = startGateway(fake.url);
    try {
      const { token } = gateway.tokens.issue("tenant-a", "run-1");
      const overloaded = { type: "error", error: { type: "overloaded_error", message: "Overloaded" } };
      fake.enqueue({ type: "error", status: 529, body: overloaded });
      const res = await post(gateway, token);
      expect(res.status).toBe(529);
      expect(await res.json()).toEqual(overloaded);
      expect(res.headers.get("request-id")).toBe("req_fake");
      fake.enqueue({ type: "error", status: 429, body: { type: "error", error: { type: "rate_limit_error" } } });
      expect((await post(gateway, token)).status).toBe(429);
      const bad = await post(gateway, token, {}, "{not json");
      expect(bad.status).toBe(404); // the fake's answer to a body it cannot parse, passed through
    } finally {
      gateway.stop();
    }
  });

  test("upstream unreachable → 502 in Anthropic's shape", async () => {
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const deadUrl = `http://127.0.0.1:${dead.port}`;
    dead.stop(true);
    const gateway = startGateway(deadUrl);
    try {
      const { token } = gateway.tokens.issue("tenant-a", "run-1");
      const res = await post(gateway, token);
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ type: "error", error: { type: "api_error" } });
      expect(gateway.logs.join("\n")).toContain("model API unreachable");
      expect(gateway.logs.join("\n")).not.toContain(PLATFORM_KEY);
    } finally {
      gateway.stop();
    }
  });

  test("a body over 32 MiB → 413 (request_too_large), not forwarded", async () => {
    const gateway = startGateway(fake.url);
    try {
      const { token } = gateway.tokens.issue("tenant-a", "run-1");
      fake.reset();
      const res = await post(gateway, token, {}, "x".repeat(MAX_MODEL_REQUEST_BYTES + 1));
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ type: "error", error: { type: "request_too_large" } });
      expect(fake.requests).toHaveLength(0);
    } finally {
      gateway.stop();
    }
  });
});

describe("model gateway: streaming", () => {
  test("the first event reaches the client while the upstream is still sending (no buffering)", async () => {
    const PAUSE_MS = 1500;
    let finishedAt = 0;
    const upstream = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => {
        const encoder = new TextEncoder();
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(encoder.encode('event: message_start\ndata: {"type":"message_start"}\n\n'));
            await Bun.sleep(PAUSE_MS);
            controller.enqueue(encoder.encode('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
            finishedAt = performance.now();
            controller.close();
          },
        });
        return new Response(stream, { headers: { "content-type": "text/event-stream" } });
      },
    });
    const gateway = startGateway(`http://127.0.0.1:${upstream.port}`);
    try {
      const { token } = gateway.tokens.issue("tenant-a", "run-1");
      const started = performance.now();
      const res = await post(gateway, token);
      const reader = res.body!.getReader();
      const first = await reader.read();
      const firstByteMs = performance.now() - started;
      expect(new TextDecoder().decode(first.value)).toContain("message_start");
      expect(finishedAt).toBe(0); // the upstream has not finished yet
      expect(firstByteMs).toBeLessThan(PAUSE_MS - 500);
      let rest = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      expect(rest).toContain("message_stop");
      expect(performance.now() - started).toBeGreaterThanOrEqual(PAUSE_MS - 50);
    } finally {
      gateway.stop();
      upstream.stop(true);
    }
  });
});

describe("model gateway: abuse", () => {
  test("10k malformed requests (no token, bad JSON, huge headers, odd methods and paths) → no 5xx but 502, no crash", async () => {
    const fake = startFakeAnthropic();
    const gateway = startGateway(fake.url);
    try {
      const { token } = gateway.tokens.issue("tenant-a", "run-1");
      const huge = "h".repeat(64 * 1024);
      const kinds: (() => Promise<Response>)[] = [
        () => post(gateway, null, {}, "{not json"),
        () => post(gateway, token, {}, "{not json"),
        () => post(gateway, token, {}, ""),
        () => post(gateway, token, { "x-huge": huge }),
        () => post(gateway, null, { "x-api-key": huge }),
        () => fetch(`${gateway.url}/v1/messages`, { method: "PUT", headers: { "x-api-key": token }, body: "x" }),
        () => fetch(`${gateway.url}/v1/messages`, { method: "DELETE", headers: { "x-api-key": token } }),
        () => fetch(`${gateway.url}/v1/messages`, { method: "OPTIONS" }),
        () => fetch(`${gateway.url}/../admin/tenants`, { headers: { "x-api-key": token } }),
        () => fetch(`${gateway.url}/%2e%2e/%2e%2e/etc/passwd`, { headers: { "x-api-key": token } }),
        () => fetch(gateway.url, { method: "PATCH", headers: { authorization: "Bearer" } }),
        () => fetch(`${gateway.url}/v1/messages`, { method: "POST", headers: { "x-api-key": "" }, body: "{}" }),
      ];
      const statuses = new Map<number, number>();
      const rounds = 834; // ~10k requests
      for (let round = 0; round < rounds; round++) {
        const results = await Promise.all(
          kinds.map((make) =>
            make()
              .then(async (res) => {
                await res.arrayBuffer();
                return res.status;
              })
              .catch(() => -1),
          ),
        );
        for (const status of results) statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      const bad = [...statuses].filter(([status]) => status >= 500 && status !== 502);
      expect(bad).toEqual([]);
      expect(statuses.get(-1) ?? 0).toBe(0);
      expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(rounds * kinds.length);
      // Still serving.
      const ok = await post(gateway, token);
      expect(ok.status).toBe(200);
      await ok.text();
      expect(gateway.logs.join("\n")).not.toContain(token);
    } finally {
      gateway.stop();
      await fake.stop();
    }
  }, 60_000);
});
