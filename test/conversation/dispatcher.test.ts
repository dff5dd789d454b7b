import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { isoAt } from "../../src/clock.ts";
import type { AppContext } from "../../src/context.ts";
import type { ClaimedBatch, Dispatcher } from "../../src/conversation/dispatcher.ts";
import { createDispatcher } from "../../src/conversation/dispatcher.ts";
import { insertInbound } from "../../src/conversation/message-store.ts";
import { finishClaimed, tenantsWithQueued } from "../../src/conversation/queue-store.ts";
import { acquireLease, getSessionState, newOwnerId } from "../../src/conversation/session-store.ts";
import { messages } from "../../src/db/schema.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, eventually, insertTenant } from "../helpers/index.ts";

const scope = { channels: ["telegram", "whatsapp", "console"] as const };
let seq = 0;

async function queue(ctx: AppContext, tenantId: string, body: string): Promise<string> {
  const id = crypto.randomUUID();
  seq += 1;
  await insertInbound(ctx.db, {
    id,
    tenant_id: tenantId,
    channel: "telegram",
    chat_id: "42",
    external_id: `u${seq}-${id}`,
    body,
    status: "queued",
    created_at: isoAt(Date.now() + seq),
  });
  return id;
}

/** A stand-in turn runner that records batches and concurrency, and marks messages done. */
function recorder(ctx: AppContext, hold: (b: ClaimedBatch) => Promise<void> = async () => {}) {
  const batches: { tenantId: string; bodies: string[] }[] = [];
  const live = new Map<string, number>();
  let maxLive = 0;
  let maxPerTenant = 0;
  const runBatch = async (batch: ClaimedBatch) => {
    live.set(batch.tenantId, (live.get(batch.tenantId) ?? 0) + 1);
    maxPerTenant = Math.max(maxPerTenant, live.get(batch.tenantId)!);
    maxLive = Math.max(
      maxLive,
      [...live.values()].reduce((a, b) => a + b, 0),
    );
    batches.push({ tenantId: batch.tenantId, bodies: batch.messages.map((m) => m.body) });
    try {
      await hold(batch);
      await finishClaimed(
        ctx.db,
        batch.messages.map((m) => m.id),
        batch.owner,
        { status: "done" },
        Date.now(),
      );
    } finally {
      live.set(batch.tenantId, live.get(batch.tenantId)! - 1);
    }
  };
  return { runBatch, batches, stats: () => ({ maxLive, maxPerTenant }) };
}

async function statuses(ctx: AppContext): Promise<string[]> {
  const rows = await ctx.db.select({ status: messages.status }).from(messages);
  return rows.map((r) => r.status).sort();
}

for (const driver of ["bun-sqlite", "libsql"] as const)
  describe(`dispatcher (${driver})`, () => {
    let tc: TestContext;
    let ctx: AppContext;
    const dispatchers: Dispatcher[] = [];
    beforeEach(async () => {
      tc = await createTestContext({ driver, clock: { now: () => Date.now() }, env: { LEASE_TTL_MS: "3000" } });
      ctx = tc.ctx;
    });
    afterEach(async () => {
      for (const d of dispatchers.splice(0)) await d.stop();
      await tc.cleanup();
    });

    test("runs all queued messages of a tenant once, in order", async () => {
      const t = await insertTenant(ctx);
      for (const body of ["one", "two", "three"]) await queue(ctx, t.id, body);
      const rec = recorder(ctx);
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch });
      dispatchers.push(d);
      await d.start();
      await d.idle();
      expect(rec.batches).toEqual([{ tenantId: t.id, bodies: ["one", "two", "three"] }]);
      expect(await statuses(ctx)).toEqual(["done", "done", "done"]);
      expect((await getSessionState(ctx.db, t.id))?.lease_owner).toBeNull();
    });

    test("messages arriving during a run go into one follow-up run, never two at once", async () => {
      const t = await insertTenant(ctx);
      await queue(ctx, t.id, "first");
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const rec = recorder(ctx, (b) => (b.messages[0]!.body === "first" ? gate : Promise.resolve()));
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch });
      dispatchers.push(d);
      await d.start();
      while (rec.batches.length === 0) await Bun.sleep(5);
      for (const body of ["a", "b", "c"]) {
        await queue(ctx, t.id, body);
        d.wake();
      }
      await Bun.sleep(50);
      release();
      await d.idle();
      expect(rec.batches.map((b) => b.bodies)).toEqual([["first"], ["a", "b", "c"]]);
      expect(rec.stats().maxPerTenant).toBe(1);
    });

    test("at most maxConcurrency runs across tenants, never-served tenants in arrival order", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const t = await insertTenant(ctx);
        ids.push(t.id);
        await queue(ctx, t.id, `m${i}`);
      }
      const rec = recorder(ctx, () => Bun.sleep(30));
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch, maxConcurrency: 2 });
      dispatchers.push(d);
      await d.start();
      await d.idle();
      // Two runs start together (two slots): their set-up races (over HTTP to libSQL, the second can begin first),
      // so a tenant may start one place early or late — never further from its arrival order.
      const served = rec.batches.map((b) => b.tenantId);
      expect([...served].sort()).toEqual([...ids].sort());
      served.forEach((id, place) => expect(Math.abs(ids.indexOf(id) - place)).toBeLessThanOrEqual(1));
      expect(rec.stats().maxLive).toBe(2);
    });

    test("a chatty tenant does not starve others at the concurrency cap (least recently served first)", async () => {
      const a = await insertTenant(ctx);
      const b = await insertTenant(ctx);
      await queue(ctx, a.id, "a0");
      let aRuns = 0;
      const rec = recorder(ctx, async (batch) => {
        if (batch.tenantId !== a.id) return;
        aRuns += 1;
        if (aRuns === 1) await queue(ctx, b.id, "b0"); // b waits from here on
        if (aRuns <= 3) await queue(ctx, a.id, `a${aRuns}`); // a keeps talking during each of its runs
      });
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch, maxConcurrency: 1 });
      dispatchers.push(d);
      await d.start();
      await d.idle();
      expect(rec.batches.map((x) => x.bodies.join("+"))).toEqual(["a0", "b0", "a1", "a2", "a3"]);
      expect(rec.stats().maxLive).toBe(1);
    });

    test("least recently served first: a served tenant's follow-up waits behind another tenant's first message, even an older follow-up", async () => {
      const a = await insertTenant(ctx);
      const b = await insertTenant(ctx);
      await queue(ctx, a.id, "a0");
      const rec = recorder(ctx, async (batch) => {
        if (batch.messages[0]!.body !== "a0") return;
        await queue(ctx, a.id, "a1"); // queued before b0 ...
        await queue(ctx, b.id, "b0"); // ... but b has never been served
      });
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch, maxConcurrency: 1 });
      dispatchers.push(d);
      await d.start();
      await d.idle();
      expect(rec.batches.map((x) => x.bodies.join("+"))).toEqual(["a0", "b0", "a1"]);
    });

    test("a wake naming a tenant starts it when a slot is free, and never jumps the queue at the cap", async () => {
      const [a, b, c] = [await insertTenant(ctx), await insertTenant(ctx), await insertTenant(ctx)];
      let release: () => void = () => {};
      const rec = recorder(ctx, async (batch) => {
        if (batch.messages[0]!.body === "a0") await new Promise<void>((resolve) => (release = resolve));
      });
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch, maxConcurrency: 1 });
      dispatchers.push(d);
      await d.start();
      await queue(ctx, a.id, "a0");
      d.wake(a.id); // a slot is free: a starts at once
      await eventually(() => rec.batches.length === 1 || undefined, "a's run");
      await queue(ctx, b.id, "b0"); // b waits first (its wake found the slot taken) ...
      d.wake(b.id);
      await queue(ctx, c.id, "c0"); // ... then c, whose wake must not put it ahead of b
      d.wake(c.id);
      await Bun.sleep(50);
      expect(rec.batches.map((x) => x.bodies.join("+"))).toEqual(["a0"]); // at the cap: nobody else started
      release();
      await d.idle();
      expect(rec.batches.map((x) => x.bodies.join("+"))).toEqual(["a0", "b0", "c0"]);
      expect(rec.stats().maxLive).toBe(1);
    });

    test("candidates: never served first, then the one served longest ago; oldest message breaks ties", async () => {
      const [recent, never1, longAgo, never2] = [
        await insertTenant(ctx),
        await insertTenant(ctx),
        await insertTenant(ctx),
        await insertTenant(ctx),
      ];
      await queue(ctx, recent.id, "r"); // the oldest message of all
      await queue(ctx, never2.id, "n2");
      await queue(ctx, longAgo.id, "l");
      await queue(ctx, never1.id, "n1");
      const now = Date.now();
      await acquireLease(ctx.db, longAgo.id, "gone", now - 120_000, 1);
      await acquireLease(ctx.db, recent.id, "gone", now - 1_000, 1);
      expect(await tenantsWithQueued(ctx.db, scope, [], 10)).toEqual([never2.id, never1.id, longAgo.id, recent.id]);
      expect(await tenantsWithQueued(ctx.db, scope, [never2.id], 2)).toEqual([never1.id, longAgo.id]);
    });

    test("without anyone else waiting, a tenant keeps its lease across follow-up runs", async () => {
      const a = await insertTenant(ctx);
      await queue(ctx, a.id, "a0");
      const owners: (string | null)[] = [];
      const rec = recorder(ctx, async (batch) => {
        owners.push((await getSessionState(ctx.db, a.id))?.lease_owner ?? null);
        if (batch.messages[0]!.body === "a0") await queue(ctx, a.id, "a1");
      });
      const owner = newOwnerId();
      const d = createDispatcher(ctx, { ownerId: owner, scope, runBatch: rec.runBatch, maxConcurrency: 1 });
      dispatchers.push(d);
      await d.start();
      await d.idle();
      expect(rec.batches.map((x) => x.bodies.join("+"))).toEqual(["a0", "a1"]);
      expect(owners).toEqual([owner, owner]);
    });

    test("two processes on one database never run one tenant twice; every message once", async () => {
      const otherFixture = await createTestContext({
        driver,
        dir: tc.dir,
        clock: { now: () => Date.now() },
        env: { LEASE_TTL_MS: "3000" },
      });
      const other = otherFixture.ctx;
      try {
        const tenants = await Promise.all([0, 1, 2].map(() => insertTenant(ctx)));
        const live = new Map<string, number>();
        let overlap = false;
        const seen: string[] = [];
        const make = (c: AppContext) =>
          createDispatcher(c, {
            ownerId: newOwnerId(),
            scope,
            sweepIntervalMs: 50,
            isOwnerDead: () => false, // both "processes" share this test's pid
            runBatch: async (b) => {
              live.set(b.tenantId, (live.get(b.tenantId) ?? 0) + 1);
              if (live.get(b.tenantId)! > 1) overlap = true;
              seen.push(...b.messages.map((m) => m.body));
              await Bun.sleep(10);
              await finishClaimed(
                c.db,
                b.messages.map((m) => m.id),
                b.owner,
                { status: "done" },
                Date.now(),
              );
              live.set(b.tenantId, live.get(b.tenantId)! - 1);
            },
          });
        const d1 = make(ctx);
        const d2 = make(other);
        dispatchers.push(d1, d2);
        await d1.start();
        await d2.start();
        const sent: string[] = [];
        for (let i = 0; i < 30; i++) {
          const t = tenants[i % 3]!;
          const body = `msg${i}`;
          sent.push(body);
          await queue(i % 2 ? ctx : other, t.id, body);
          (i % 2 ? d1 : d2).wake();
          if (i % 5 === 0) await Bun.sleep(5);
        }
        while ((await statuses(ctx)).some((s) => s !== "done")) await Bun.sleep(20);
        await d1.idle();
        await d2.idle();
        expect(overlap).toBe(false);
        expect(seen.sort()).toEqual(sent.sort());
      } finally {
        await otherFixture.cleanup();
      }
    });

    test("on start, a run cut short (expired lease or dead owner on this host) is queued again", async () => {
      const t1 = await insertTenant(ctx);
      const t2 = await insertTenant(ctx);
      const m1 = await queue(ctx, t1.id, "expired");
      const m2 = await queue(ctx, t2.id, "dead-owner");
      const deadOwner = newOwnerId(2 ** 22 + 12345); // a pid that is not running
      await acquireLease(ctx.db, t1.id, "elsewhere:1:aa", Date.now() - 10_000, 3000);
      await acquireLease(ctx.db, t2.id, deadOwner, Date.now(), 60_000);
      await ctx.db
        .update(messages)
        .set({ status: "processing", lease_owner: "elsewhere:1:aa" })
        .where(eq(messages.id, m1));
      await ctx.db.update(messages).set({ status: "processing", lease_owner: deadOwner }).where(eq(messages.id, m2));
      const rec = recorder(ctx);
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch });
      dispatchers.push(d);
      await d.start();
      await d.idle();
      expect(rec.batches.map((b) => b.bodies[0]).sort()).toEqual(["dead-owner", "expired"]);
      expect(ctx.metrics.leaseRecoveries).toBeDefined();
    });

    test("a lease lost during a run stops the loop: nothing more is claimed without it", async () => {
      const t = await insertTenant(ctx);
      await queue(ctx, t.id, "m1");
      const rec = recorder(ctx, async (b) => {
        if (b.messages[0]!.body !== "m1") return;
        await queue(ctx, t.id, "m2");
        // An operator frees the lease and another process takes it, before any heartbeat notices.
        await ctx.db.run(
          sql.raw(`UPDATE conversation_sessions SET lease_expires_at = NULL WHERE tenant_id = '${t.id}'`),
        );
        expect(await acquireLease(ctx.db, t.id, "otherhost:1:cc", Date.now(), 600_000)).toBeDefined();
      });
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch });
      dispatchers.push(d);
      await d.start();
      await d.idle();
      expect(rec.batches.map((b) => b.bodies)).toEqual([["m1"]]);
      expect(await statuses(ctx)).toEqual(["done", "queued"]);
      expect((await getSessionState(ctx.db, t.id))?.lease_owner).toBe("otherhost:1:cc");
    });

    /** Waits until the batch's signal aborts (or `limitMs` passes); resolves with the reason's message or null. */
    const abortOf = (batch: ClaimedBatch, limitMs = 3000) =>
      new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), limitMs);
        batch.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(batch.signal.reason instanceof Error ? batch.signal.reason.message : String(batch.signal.reason));
        });
      });

    test("a lease taken over during a run aborts the run's signal at the next heartbeat", async () => {
      const t = await insertTenant(ctx);
      await queue(ctx, t.id, "m1");
      let reason: string | null | undefined;
      const rec = recorder(ctx, async (b) => {
        await ctx.db.run(
          sql.raw(`UPDATE conversation_sessions SET lease_expires_at = NULL WHERE tenant_id = '${t.id}'`),
        );
        await acquireLease(ctx.db, t.id, "otherhost:1:dd", Date.now(), 600_000);
        const started = Date.now();
        reason = await abortOf(b);
        expect(Date.now() - started).toBeLessThan(1000);
        expect(b.isLeaseHeld()).toBe(false);
      });
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch, heartbeatMs: 50 });
      dispatchers.push(d);
      await d.start();
      await d.idle();
      expect(reason).toBe("lease lost: taken over or freed");
      expect((await getSessionState(ctx.db, t.id))?.lease_owner).toBe("otherhost:1:dd"); // its release touched nothing
    });

    test("a lease not renewed before it expired (a paused process) aborts the run even if nobody took it", async () => {
      let offsetMs = 0;
      await tc.cleanup();
      tc = await createTestContext({
        driver,
        clock: { now: () => Date.now() + offsetMs },
        env: { LEASE_TTL_MS: "3000" },
      });
      ctx = tc.ctx;
      const t = await insertTenant(ctx);
      await queue(ctx, t.id, "m1");
      let reason: string | null | undefined;
      const rec = recorder(ctx, async (b) => {
        offsetMs += 3_500; // as if the process had been stopped (SIGSTOP) past the lease's expiry
        reason = await abortOf(b);
      });
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch, heartbeatMs: 50 });
      dispatchers.push(d);
      await d.start();
      await d.idle();
      expect(reason).toBe("lease lost: not renewed before it expired");
    });

    test("the runbook's lease UPDATE frees a stuck tenant without restart", async () => {
      const t = await insertTenant(ctx);
      await acquireLease(ctx.db, t.id, "otherhost:1:bb", Date.now(), 600_000);
      await queue(ctx, t.id, "stuck");
      const rec = recorder(ctx);
      const d = createDispatcher(ctx, { ownerId: newOwnerId(), scope, runBatch: rec.runBatch, sweepIntervalMs: 30 });
      dispatchers.push(d);
      await d.start();
      await Bun.sleep(80);
      expect(rec.batches).toHaveLength(0);
      await ctx.db.run(sql.raw(`UPDATE conversation_sessions SET lease_expires_at = NULL WHERE tenant_id = '${t.id}'`));
      while (rec.batches.length === 0) await Bun.sleep(10);
      await d.idle();
      expect(rec.batches[0]!.bodies).toEqual(["stuck"]);
    });
  });
