// The metered gateway in process (createModelGateway: meter + budget check), in front of a hostile upstream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import type { ModelGateway } from "../../src/gateway/index.ts";
import { createModelGateway } from "../../src/gateway/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, eventually, insertTenant } from "../helpers/index.ts";

/** An upstream that answers /v1/messages with anything: junk SSE, cut JSON, huge lines, odd statuses. */
function startHostileUpstream(): { url: string; stop(): void } {
  let n = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      await req.arrayBuffer();
      const kind = n++ % 8;
      const sse = { "content-type": "text/event-stream" };
      switch (kind) {
        case 0:
          return new Response('event: message_start\ndata: {"type":"message_start","message":{"model":', {
            headers: sse,
          });
        case 1:
          return new Response(
            `data: ${"x".repeat(200_000)}\ndata: {"type":"message_delta","usage":{"output_tokens":-5}}\n`,
            { headers: sse },
          );
        case 2:
          return new Response('{"model": 7, "usage": "lots"}', { headers: { "content-type": "application/json" } });
        case 3:
          return new Response("\u0000\u00ff not json at all", { status: 400 });
        case 4:
          return new Response(null, { status: 204 });
        case 5:
          return Response.json(
            { type: "error", error: { type: "rate_limit_error", message: "slow down" } },
            { status: 429 },
          );
        case 6:
          return new Response(
            'data: {"type":"message_start","message":{"model":"claude-haiku-4-5","usage":{"input_tokens":3}}}\n\ndata: {"type":"message_delta","usage":{"output_tokens":2}}\n\n',
            { headers: sse },
          );
        default:
          return new Response('data: {"type":"message_delta","usage":{"output_tokens":1e400}}\n\n', { headers: sse });
      }
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

describe("metered gateway: abuse", () => {
  let t: TestContext;
  let upstream: { url: string; stop(): void };
  let gateway: ModelGateway;
  let base: string;
  let server: ReturnType<typeof Bun.serve>;

  beforeAll(async () => {
    upstream = startHostileUpstream();
    t = await createTestContext({
      env: { ANTHROPIC_BASE_URL: upstream.url, ANTHROPIC_API_KEY: "sk-ant-platform-metering-test" },
    });
    gateway = createModelGateway(t.ctx);
    const app = new Hono();
    gateway.routes.mount(app, new Hono());
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, idleTimeout: 30 });
    base = gateway.url(`http://127.0.0.1:${server.port}`);
  });
  afterAll(async () => {
    server.stop(true);
    upstream.stop();
    await t.cleanup();
  });

  test("10k requests with a live token and junk answers → no 5xx but 502, one row per Messages request, still serving", async () => {
    const tenant = await insertTenant(t.ctx, { timezone: "Asia/Kolkata" });
    const { token } = gateway.issueToken(tenant.id, "run-abuse");
    const huge = "h".repeat(64 * 1024);
    const send = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
      fetch(`${base}${path}`, {
        method,
        headers: { "x-api-key": token, ...headers },
        ...(body !== undefined ? { body } : {}),
      });
    const kinds: [boolean, () => Promise<Response>][] = [
      [true, () => send("POST", "/v1/messages?beta=true", { "content-type": "application/json" }, "{not json")],
      [
        true,
        () =>
          send(
            "POST",
            "/v1/messages",
            { "content-type": "application/json" },
            '{"model":"claude-sonnet-4-5","stream":true}',
          ),
      ],
      [false, () => send("POST", "/v1/messages", { "x-huge": huge }, "")], // 431 from the HTTP server itself
      [false, () => send("GET", "/v1/messages")],
      [false, () => send("DELETE", "/v1/messages/x")],
      [false, () => send("POST", "/v1/messages/count_tokens", {}, "{}")],
      [false, () => send("PUT", "/../../admin/usage", {}, "x")],
      [false, () => fetch(`${base}/v1/messages`, { method: "POST", body: "{}" })], // no token: 401, never upstream
    ];
    const statuses = new Map<number, number>();
    const rounds = 1250; // 10k requests
    for (let round = 0; round < rounds; round++) {
      const results = await Promise.all(
        kinds.map(([, make]) =>
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
    expect([...statuses].filter(([status]) => status >= 500 && status !== 502)).toEqual([]);
    expect(statuses.get(-1) ?? 0).toBe(0);
    expect(statuses.get(401)).toBe(rounds);
    const metered = rounds * kinds.filter(([isMessages]) => isMessages).length;
    const totals = await eventually(async () => {
      const u = await gateway.runUsage(tenant.id, "run-abuse");
      return u.requests === metered ? u : undefined;
    }, "every Messages request metered");
    // Only well-formed usage counts: the one good answer kind (3 in / 2 out); junk and negative counts add nothing.
    expect(totals.inputTokens % 3).toBe(0);
    expect(totals.inputTokens).toBeGreaterThan(0);
    expect(totals.outputTokens).toBe((totals.inputTokens / 3) * 2);
    expect(Number.isFinite(totals.costUsd)).toBe(true);
    // Prometheus: the same tokens and cost, without a tenant label.
    const tokens = await t.ctx.metrics.modelTokens.get();
    expect(tokens.values.find((v) => v.labels.kind === "input")?.value).toBe(totals.inputTokens);
    expect(tokens.values.every((v) => Object.keys(v.labels).join() === "kind")).toBe(true);
    expect((await t.ctx.metrics.modelCostUsd.get()).values[0]?.value).toBeCloseTo(totals.costUsd, 9);
    const health = await gateway.health();
    expect(health.fields.model).toBe("ok");
    // Still serving, and the platform key never echoed back.
    const after = await send("POST", "/v1/messages", {}, "{}");
    expect(after.status).toBeLessThan(500);
    expect(await after.text()).not.toContain("sk-ant-platform-metering-test");
  }, 180_000);
});
