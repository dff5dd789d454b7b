import { afterEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { hasQueuedForInstance } from "../../src/conversation/index.ts";
import { hasQueuedForInstanceQuery, tenantsWithQueued } from "../../src/conversation/queue-store.ts";
import { assertOwnedHere, DOWN_AFTER_MS, HEARTBEAT_MS, listInstances } from "../../src/instances/index.ts";
import { heartbeatInstance, registerInstance } from "../../src/instances/registry.ts";
import { claimDueTasks, earliestNextRunAt } from "../../src/scheduler/claims.ts";
import { adoptUnownedTenants, createTenant, switchTenantOwner } from "../../src/tenants/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant, rejectionOf } from "../helpers/index.ts";

const NOW = Date.parse("2026-12-01T10:00:00.000Z");
let t: TestContext | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

async function queued(ctx: TestContext["ctx"], tenantId: string): Promise<void> {
  await ctx.db.run(sql`INSERT INTO messages (id, tenant_id, direction, channel, chat_id, body, status, created_at)
    VALUES (${crypto.randomUUID()}, ${tenantId}, 'in', 'telegram', '1', 'hi', 'queued', ${new Date(NOW).toISOString()})`);
}

for (const driver of ["bun-sqlite", "libsql"] as const) {
  describe(`instances (${driver})`, () => {
    test("registered instances are up until unseen for 60 s; a heartbeat keeps them up", async () => {
      const clock = new FakeClock(NOW);
      t = await createTestContext({ driver, clock, env: { INSTANCE_ID: "a" } });
      await registerInstance(t.ctx.db, { id: "a", url: "http://a:3000", version: "1" }, clock.now());
      await registerInstance(t.ctx.db, { id: "b", url: "http://b:3000", version: "1" }, clock.now());
      clock.advance(DOWN_AFTER_MS - HEARTBEAT_MS);
      await heartbeatInstance(t.ctx.db, "a", clock.now());
      clock.advance(HEARTBEAT_MS + 1);
      expect((await listInstances(t.ctx.db, clock)).map((i) => [i.id, i.up])).toEqual([
        ["a", true],
        ["b", false],
      ]);
    });

    test("only the owner's queued work is seen and claimed; no owner yet counts as everyone's until adopted", async () => {
      t = await createTestContext({ driver, env: { INSTANCE_ID: "a" } });
      const db = t.ctx.db;
      const mine = await insertTenant(t.ctx, { instance_id: "a" });
      const theirs = await insertTenant(t.ctx, { instance_id: "b" });
      await queued(t.ctx, theirs.id);
      expect(await hasQueuedForInstance(db, "a")).toBe(false);
      expect(await hasQueuedForInstance(db, "b")).toBe(true);
      expect(await tenantsWithQueued(db, { channels: ["telegram"], instanceId: "a" }, [], 10)).toEqual([]);
      expect(await tenantsWithQueued(db, { channels: ["telegram"], instanceId: "b" }, [], 10)).toEqual([theirs.id]);
      await queued(t.ctx, mine.id);
      expect(await hasQueuedForInstance(db, "a")).toBe(true);

      const unowned = await insertTenant(t.ctx);
      expect(await adoptUnownedTenants(db, "a", NOW)).toBe(1);
      expect(await adoptUnownedTenants(db, "b", NOW)).toBe(0);
      expect(await switchTenantOwner(db, unowned.id, "b", "c", NOW)).toBe(false); // not b's
      expect(await switchTenantOwner(db, unowned.id, "a", "b", NOW)).toBe(true);
      // With a file database every process is on one machine (one volume): every tenant is here.
      await assertOwnedHere(t.ctx, { id: theirs.id, instance_id: "b" });
      const remote = { ...t.ctx, config: { ...t.ctx.config, DATABASE_URL: "http://sqld.internal:8080" } };
      await assertOwnedHere(remote, { id: theirs.id, instance_id: "a" });
      await expect(assertOwnedHere(remote, { id: theirs.id, instance_id: "b" })).rejects.toMatchObject({
        code: "wrong_instance",
        status: 409,
      });
    });

    test("the scheduler claims and waits for only its own tenants' tasks", async () => {
      t = await createTestContext({ driver, env: { INSTANCE_ID: "a" } });
      const theirs = await insertTenant(t.ctx, { instance_id: "b" });
      const due = new Date(NOW - 1000).toISOString();
      await t.ctx.db.run(sql`INSERT INTO scheduled_tasks (id, tenant_id, prompt, timezone, next_run_at, status, created_by, created_at, updated_at)
        VALUES (${crypto.randomUUID()}, ${theirs.id}, 'p', 'UTC', ${due}, 'PENDING', 'admin', ${due}, ${due})`);
      expect(await earliestNextRunAt(t.ctx.db, "a")).toBeNull();
      expect(await claimDueTasks(t.ctx.db, NOW, 10, "a")).toEqual([]);
      expect(await earliestNextRunAt(t.ctx.db, "b")).toBe(due);
      expect((await claimDueTasks(t.ctx.db, NOW, 10, "b")).length).toBe(1);
    });
  });
}

test("the owner's poll finds queued rows through the (direction, status) index, never a scan of messages", async () => {
  t = await createTestContext();
  const query = hasQueuedForInstanceQuery("a");
  const plan = await t.ctx.db.all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${query}`);
  const details = plan.map((p) => p.detail).join("\n");
  expect(details).toContain("messages_outbox_idx");
  expect(details).not.toMatch(/SCAN m\b/);
  expect(details).not.toMatch(/SCAN t\b/);
});

test("a tenant is created owned by this instance; another instance's id is refused with wrong_instance, an unknown one with unknown_instance", async () => {
  t = await createTestContext({ env: { INSTANCE_ID: "a", FLY_APP_NAME: "app" } });
  const tenant = await createTenant(t.ctx, { name: "Here", phone: "+18015550101", channel: "telegram" });
  expect(tenant.instance_id).toBe("a");
  await registerInstance(t.ctx.db, { id: "b", url: "http://b:3000", version: "1" }, Date.now());
  const elsewhere = await rejectionOf(
    createTenant(t.ctx, { name: "There", phone: "+18015550102", channel: "telegram", instance_id: "b" }),
  );
  expect(elsewhere).toMatchObject({ code: "wrong_instance", status: 409, headers: { "fly-replay": "instance=b" } });
  expect((elsewhere as Error).message).toContain("http://b:3000");
  const unknown = await rejectionOf(
    createTenant(t.ctx, { name: "Nowhere", phone: "+18015550103", channel: "telegram", instance_id: "zz" }),
  );
  expect(unknown).toMatchObject({ code: "unknown_instance", status: 400 });
});
