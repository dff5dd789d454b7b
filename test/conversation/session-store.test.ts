import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  acquireLease,
  getSessionState,
  releaseLease,
  renewLease,
  resetSession,
  saveSessionId,
} from "../../src/conversation/session-store.ts";
import { sql } from "drizzle-orm";
import { insertTenant, makeTestContext } from "./context.ts";
import type { TestContext } from "./context.ts";

const T0 = Date.parse("2026-11-26T09:00:00.000Z");
const TTL = 60_000;

for (const driver of ["bun-sqlite", "libsql"] as const) {
  describe(`session store (${driver})`, () => {
    let ctx: TestContext;
    let tenantId: string;
    beforeEach(async () => {
      ctx = await makeTestContext({ driver });
      tenantId = (await insertTenant(ctx)).id;
    });
    afterEach(() => ctx.cleanup());

    test("no row until the first lease", async () => {
      expect(await getSessionState(ctx.db, tenantId)).toBeNull();
      expect(await resetSession(ctx.db, tenantId)).toBe(false);
    });

    test("one owner at a time; expiry frees it", async () => {
      expect(await acquireLease(ctx.db, tenantId, "p1", T0, TTL)).toEqual({ sessionId: null });
      expect(await acquireLease(ctx.db, tenantId, "p2", T0 + 1000, TTL)).toBeUndefined();
      expect(await renewLease(ctx.db, tenantId, "p2", T0 + 1000, TTL)).toBe(false);
      expect(await renewLease(ctx.db, tenantId, "p1", T0 + 1000, TTL)).toBe(true);
      expect(await acquireLease(ctx.db, tenantId, "p2", T0 + TTL, TTL)).toBeUndefined();
      expect(await acquireLease(ctx.db, tenantId, "p2", T0 + 1000 + TTL, TTL)).toEqual({ sessionId: null });
      const state = await getSessionState(ctx.db, tenantId);
      expect(state?.lease_owner).toBe("p2");
    });

    test("session id survives release and is returned on the next acquire", async () => {
      await acquireLease(ctx.db, tenantId, "p1", T0, TTL);
      expect(await saveSessionId(ctx.db, tenantId, "p1", "sess-1", T0)).toBe(true);
      await releaseLease(ctx.db, tenantId, "p1", T0);
      expect(await getSessionState(ctx.db, tenantId)).toEqual({
        agent_session_id: "sess-1",
        lease_owner: null,
        lease_expires_at: null,
      });
      expect(await acquireLease(ctx.db, tenantId, "p2", T0, TTL)).toEqual({ sessionId: "sess-1" });
    });

    test("the runbook's UPDATE frees a stuck lease", async () => {
      await acquireLease(ctx.db, tenantId, "p1", T0, TTL);
      await ctx.db.run(sql.raw(`UPDATE conversation_sessions SET lease_expires_at = NULL WHERE tenant_id = '${tenantId}'`));
      expect(await acquireLease(ctx.db, tenantId, "p2", T0, TTL)).toBeDefined();
    });

    test("reset clears the session and the lease; the old run cannot store its id", async () => {
      await acquireLease(ctx.db, tenantId, "p1", T0, TTL);
      await saveSessionId(ctx.db, tenantId, "p1", "sess-1", T0);
      expect(await resetSession(ctx.db, tenantId)).toBe(true);
      expect(await saveSessionId(ctx.db, tenantId, "p1", "sess-2", T0)).toBe(false);
      expect(await renewLease(ctx.db, tenantId, "p1", T0, TTL)).toBe(false);
      expect((await getSessionState(ctx.db, tenantId))?.agent_session_id).toBeNull();
    });
  });
}
