import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { AppContext } from "../../../src/context.ts";
import { conversationHealth, recordAgentFailure } from "../../../src/conversation/agent-health.ts";
import { adminRoutes } from "../../../src/http/admin/index.ts";
import { createApp } from "../../../src/http/app.ts";
import { HealthRegistry } from "../../../src/http/health.ts";
import type { TestContext } from "../../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant, TEST_ADMIN_KEY } from "../../helpers/index.ts";

describe("agent failure details: public /health vs GET /admin/agent-health", () => {
  let tc: TestContext;
  let ctx: AppContext;
  beforeEach(async () => {
    tc = await createTestContext({ clock: new FakeClock() });
    ctx = tc.ctx;
  });
  afterEach(() => tc.cleanup());

  function app() {
    const health = new HealthRegistry();
    health.contribute(() => conversationHealth(ctx.db));
    return createApp(ctx, { health, modules: [adminRoutes(ctx)] });
  }

  test("public /health shows only the kind and time; the admin route adds tenant and error text", async () => {
    const t = await insertTenant(ctx);
    const at = "2026-11-26T09:00:00.000Z";
    await recordAgentFailure(
      ctx.db,
      { kind: "credit_too_low", at, tenant_id: t.id, error: "Credit balance is too low (acct 1234)" },
      Date.parse(at),
    );
    const a = app();

    const pub = await a.request("/health");
    expect(pub.status).toBe(503); // credit too low: degraded
    const text = await pub.text();
    expect(JSON.parse(text).last_agent_failure).toEqual({ kind: "credit_too_low", at });
    expect(text).not.toContain(t.id);
    expect(text).not.toContain("Credit balance");

    expect((await a.request("/admin/agent-health")).status).toBe(401);
    const res = await a.request("/admin/agent-health", { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      last_agent_failure: {
        kind: "credit_too_low",
        at,
        tenant_id: t.id,
        error: "Credit balance is too low (acct 1234)",
      },
      last_agent_ok_at: null,
      queue: { queued: 0, processing: 0 },
      degraded: true,
    });
    const doc = (await (
      await a.request("/admin/openapi.json", { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })
    ).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain("/agent-health");
  });
});
