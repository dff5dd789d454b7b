import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { AppContext } from "../../src/context.ts";
import {
  acquireLease,
  getSessionState,
  readSessionStart,
  releaseLease,
  renewLease,
  resetAgentSession,
  resetSession,
  saveSessionId,
} from "../../src/conversation/session-store.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";

const T0 = Date.parse("2026-11-26T09:00:00.000Z");
const TTL = 60_000;

for (const driver of ["bun-sqlite", "libsql"] as const) {
  describe(`session store (${driver})`, () => {
    let tc: TestContext;
    let ctx: AppContext;
    let tenantId: string;
    beforeEach(async () => {
      tc = await createTestContext({ driver, clock: new FakeClock() });
      ctx = tc.ctx;
      tenantId = (await insertTenant(ctx)).id;
    });
    afterEach(() => tc.cleanup());

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
      expect(await saveSessionId(ctx.db, tenantId, "p1", "sess-1", T0, null)).toBe(true);
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
      await ctx.db.run(
        sql.raw(`UPDATE conversation_sessions SET lease_expires_at = NULL WHERE tenant_id = '${tenantId}'`),
      );
      expect(await acquireLease(ctx.db, tenantId, "p2", T0, TTL)).toBeDefined();
    });

    test("the operator's reset clears the session and the lease; the old run cannot store its id", async () => {
      await acquireLease(ctx.db, tenantId, "p1", T0, TTL);
      await saveSessionId(ctx.db, tenantId, "p1", "sess-1", T0, null);
      expect(await resetSession(ctx.db, tenantId)).toBe(true);
      expect(await saveSessionId(ctx.db, tenantId, "p1", "sess-2", T0, null)).toBe(false);
      expect(await renewLease(ctx.db, tenantId, "p1", T0, TTL)).toBe(false);
      expect((await getSessionState(ctx.db, tenantId))?.agent_session_id).toBeNull();
    });

    test("a customer reset keeps a live run's lease; that run (even a fresh one) cannot store its session id", async () => {
      await acquireLease(ctx.db, tenantId, "p1", T0, TTL);
      const start = await readSessionStart(ctx.db, tenantId);
      expect(start).toEqual({ sessionId: null, resetMark: null, turnMark: null });
      const outcome = await resetAgentSession(ctx.db, tenantId, T0 + 10, { isOwnerDead: () => false });
      expect(outcome).toMatchObject({ reset: true, leaseFreed: false, leaseOwner: "p1" });
      expect(await renewLease(ctx.db, tenantId, "p1", T0 + 20, TTL)).toBe(true);
      expect(await saveSessionId(ctx.db, tenantId, "p1", "sess-from-before-reset", T0 + 30, start.resetMark)).toBe(
        false,
      );
      expect((await getSessionState(ctx.db, tenantId))?.agent_session_id).toBeNull();
      const next = await readSessionStart(ctx.db, tenantId);
      expect(next.resetMark).not.toBeNull();
      expect(await saveSessionId(ctx.db, tenantId, "p1", "sess-after", T0 + 40, next.resetMark, "run-after")).toBe(
        true,
      );
      expect(await readSessionStart(ctx.db, tenantId)).toEqual({
        sessionId: "sess-after",
        resetMark: next.resetMark,
        turnMark: "run-after",
      });
    });

    test("a customer reset frees a lease whose holder is dead; an expired lease is just left", async () => {
      await acquireLease(ctx.db, tenantId, "gone:1:aa", T0, TTL);
      const outcome = await resetAgentSession(ctx.db, tenantId, T0, { isOwnerDead: (o) => o === "gone:1:aa" });
      expect(outcome).toMatchObject({ reset: true, leaseFreed: true, leaseOwner: "gone:1:aa" });
      expect((await getSessionState(ctx.db, tenantId))?.lease_owner).toBeNull();
      await acquireLease(ctx.db, tenantId, "p2", T0, TTL);
      expect(await resetAgentSession(ctx.db, tenantId, T0 + TTL + 1)).toMatchObject({
        reset: true,
        leaseFreed: false,
        leaseOwner: null,
      });
    });
  });
}
