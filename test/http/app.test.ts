import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { NotFoundError } from "../../src/errors.ts";
import { createApp, MAX_BODY_BYTES } from "../../src/http/app.ts";
import { HealthRegistry } from "../../src/http/health.ts";
import type { RouteModule } from "../../src/ports.ts";
import { createTestContext, startTestServer, TEST_ADMIN_KEY, useTestContext } from "../helpers/index.ts";

/** Routes that exist only in this test, to reach the app's error handling. */
const testRoutes: RouteModule = {
  mount(app, admin) {
    app.post("/test/json", async (c) => c.json(await c.req.json<unknown>()));
    app.post("/test/zod", async (c) => c.json(z.object({ name: z.string() }).parse(await c.req.json())));
    app.get("/test/app-error", () => {
      throw new NotFoundError("tenant_not_found", "No tenant with that id.");
    });
    app.get("/test/bug", () => {
      throw new Error(`boom at /srv/secret-path with ${TEST_ADMIN_KEY}`);
    });
    admin.get("/ping", (c) => c.json({ pong: true }));
  },
};

const t = useTestContext();

const appFor = (health?: HealthRegistry) => createApp(t.ctx, { modules: [testRoutes], health });
const json = async (res: Response) => (await res.json()) as Record<string, unknown>;

describe("GET /health", () => {
  test("ok: 200 with status, version, uptime and db", async () => {
    const res = await appFor().request("/health");
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ status: "ok", db: "ok", version: expect.any(String) });
    expect(body.uptime_s).toBeNumber();
  });

  test("degraded: 503 with db error when the database cannot be queried", async () => {
    const app = appFor();
    await t.ctx.database.close();
    const res = await app.request("/health");
    expect(res.status).toBe(503);
    expect(await json(res)).toMatchObject({ status: "degraded", db: "error" });
  });

  test("degraded on libSQL too", async () => {
    const lib = await createTestContext({ driver: "libsql" });
    try {
      const app = createApp(lib.ctx);
      expect((await app.request("/health")).status).toBe(200);
      await lib.ctx.database.close();
      const res = await app.request("/health");
      expect(res.status).toBe(503);
      expect(await json(res)).toMatchObject({ status: "degraded", db: "error" });
    } finally {
      await lib.cleanup();
    }
  });

  test("modules add fields and can mark the service degraded; a failing contributor degrades, not crashes", async () => {
    const health = new HealthRegistry();
    health.contribute(() => ({ fields: { queue_depth: 3 } }));
    const app = appFor(health);
    const ok = await app.request("/health");
    expect(ok.status).toBe(200);
    expect(await json(ok)).toMatchObject({ status: "ok", queue_depth: 3 });

    health.contribute(() => {
      throw new Error("agent probe failed");
    }, "agent");
    const bad = await app.request("/health");
    expect(bad.status).toBe(503);
    expect(await json(bad)).toMatchObject({ status: "degraded", db: "ok", queue_depth: 3, agent: "error" });
    expect(t.logs.some((l) => l.msg === "health contributor failed" && l.contributor === "agent")).toBe(true);
  });
});

describe("/admin/* authentication", () => {
  const cases: [string, Record<string, string>][] = [
    ["no header", {}],
    ["wrong key", { authorization: "Bearer wrong-key-wrong-key-123" }],
    ["right key with a suffix", { authorization: `Bearer ${TEST_ADMIN_KEY}x` }],
    ["a prefix of the key", { authorization: `Bearer ${TEST_ADMIN_KEY.slice(0, 10)}` }],
    ["Basic scheme", { authorization: `Basic ${TEST_ADMIN_KEY}` }],
    ["bare key", { authorization: TEST_ADMIN_KEY }],
    ["Bearer without a key", { authorization: "Bearer" }],
    ["two tokens", { authorization: `Bearer ${TEST_ADMIN_KEY} extra` }],
  ];
  test.each(cases)("%s → 401 unauthorized JSON", async (_name, headers) => {
    for (const path of ["/admin/ping", "/admin/unknown", "/admin"]) {
      const res = await appFor().request(path, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toStartWith("Bearer");
      const body = await json(res);
      expect(body).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
      expect(JSON.stringify(body)).not.toContain(TEST_ADMIN_KEY);
    }
  });

  test("the right key reaches admin routes (scheme case-insensitive); unknown admin routes are 404 JSON", async () => {
    const app = appFor();
    const ok = await app.request("/admin/ping", { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(ok.status).toBe(200);
    expect(await json(ok)).toEqual({ pong: true });
    const lower = await app.request("/admin/ping", { headers: { authorization: `bearer ${TEST_ADMIN_KEY}` } });
    expect(lower.status).toBe(200);
    const missing = await app.request("/admin/nothing/here", {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    expect(missing.status).toBe(404);
    expect(await json(missing)).toEqual({
      error: { code: "not_found", message: expect.stringContaining("/admin/nothing/here") },
    });
  });
});

describe("error shapes", () => {
  test("unknown route → 404 JSON", async () => {
    const res = await appFor().request("/no/such/route");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await json(res)).toEqual({ error: { code: "not_found", message: "No route for GET /no/such/route." } });
  });

  test("malformed JSON → 400 invalid_json", async () => {
    const res = await appFor().request("/test/json", {
      method: "POST",
      body: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({
      error: { code: "invalid_json", message: "The request body is not valid JSON." },
    });
  });

  test("zod failure → 400 invalid_input naming the field", async () => {
    const res = await appFor().request("/test/zod", { method: "POST", body: JSON.stringify({ name: 5 }) });
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body).toMatchObject({ error: { code: "invalid_input" } });
    expect(JSON.stringify(body)).toContain("name");
  });

  test("AppError → its status and code", async () => {
    const res = await appFor().request("/test/app-error");
    expect(res.status).toBe(404);
    expect(await json(res)).toEqual({ error: { code: "tenant_not_found", message: "No tenant with that id." } });
  });

  test("a bug → 500 without internals; logged with the secret redacted", async () => {
    const res = await appFor().request("/test/bug");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "internal_error", message: expect.any(String) } });
    expect(text).not.toContain("boom");
    expect(text).not.toContain(" at ");
    const logged = JSON.stringify(t.logs);
    expect(logged).toContain("boom");
    expect(logged).not.toContain(TEST_ADMIN_KEY);
  });

  test("one request log line per request with method, path, status and duration", async () => {
    await appFor().request("/no/such/route?token=abc");
    const lines = t.logs.filter((l) => l.msg === "request");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "info",
      method: "GET",
      path: "/no/such/route",
      status: 404,
      duration_ms: expect.any(Number),
    });
    expect(JSON.stringify(lines[0])).not.toContain("token=abc");
  });
});

describe("request size over a real socket", () => {
  test("over 1 MiB → 413 (with Content-Length and chunked); exactly 1 MiB passes", async () => {
    const s = await startTestServer({ routes: [testRoutes] });
    try {
      const big = JSON.stringify({ a: "x".repeat(MAX_BODY_BYTES) });
      const res = await fetch(`${s.url}/test/json`, {
        method: "POST",
        body: big,
        headers: { "content-type": "application/json" },
      });
      expect(res.status).toBe(413);
      expect(await json(res)).toMatchObject({ error: { code: "payload_too_large" } });

      const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent > MAX_BODY_BYTES + chunk.length) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const chunked = await fetch(`${s.url}/test/json`, {
        method: "POST",
        body: stream,
        headers: { "content-type": "application/json" },
      });
      expect(chunked.status).toBe(413);

      const fits = JSON.stringify({ a: "x".repeat(MAX_BODY_BYTES - 8) });
      expect(fits.length).toBe(MAX_BODY_BYTES);
      const ok = await fetch(`${s.url}/test/json`, {
        method: "POST",
        body: fits,
        headers: { "content-type": "application/json" },
      });
      expect(ok.status).toBe(200);
    } finally {
      await s.cleanup();
    }
  });

  test("413 on admin routes too, before the body is read", async () => {
    const s = await startTestServer({ routes: [testRoutes] });
    try {
      const res = await s.adminFetch("/admin/ping", { method: "POST", body: "x".repeat(MAX_BODY_BYTES + 1) });
      expect(res.status).toBe(413);
    } finally {
      await s.cleanup();
    }
  });
});
