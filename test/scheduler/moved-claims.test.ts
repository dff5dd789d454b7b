import { afterEach, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { AppContext } from "../../src/context.ts";
import { schema } from "../../src/db/index.ts";
import { conversationTaskDeps, createScheduler, createTask } from "../../src/scheduler/index.ts";
import { switchTenantOwner } from "../../src/tenants/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";
import { MIN, readTask } from "./fixtures.ts";

// Issue 17: a task claimed on the source of a move-tenant must not stay claimed by it. The target runs the
// task's message; had it stopped before applying the outcome, it recovers the claim once stale — which it
// never would be if the source kept renewing a claim of a tenant it no longer owns. Two instances on one
// database in-process (a remote-looking DATABASE_URL turns ownership on, as for libSQL).
const NOW = Date.parse("2026-11-26T08:59:00.000Z");
const TTL_MS = 5 * MIN;
let t: TestContext | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

function instance(base: AppContext, id: string): AppContext {
  return { ...base, config: { ...base.config, INSTANCE_ID: id, DATABASE_URL: "http://sqld.internal:8080" } };
}

const idleQueue = { wake() {}, onBatchFinished: () => () => {} };

test("after the tenant moved, the source stops renewing the task's claim; the target recovers the finished run", async () => {
  const clock = new FakeClock(NOW);
  t = await createTestContext({ clock, env: { LEASE_TTL_MS: String(TTL_MS) } });
  const a = instance(t.ctx, "a");
  const b = instance(t.ctx, "b");
  const tenant = await insertTenant(t.ctx, { instance_id: "a", timezone: "UTC", onboarding_status: "LIVE" });
  const task = await createTask(
    a,
    tenant.id,
    { prompt: "Send the weekly report", run_at: new Date(NOW + MIN).toISOString() },
    "agent",
  );
  const source = createScheduler(a, conversationTaskDeps(a, idleQueue));
  const target = createScheduler(b, conversationTaskDeps(b, idleQueue));

  clock.advance(MIN);
  expect((await source.tick()).claimed).toBe(1); // the source claims it and queues its message
  expect((await target.tick()).claimed).toBe(0);
  expect((await readTask(t.ctx, task.id)).status).toBe("RUNNING");

  // move-tenant switches the owner while the message waits; the target runs it, then stops before it reads the outcome.
  expect(await switchTenantOwner(t.ctx.db, tenant.id, "a", "b", clock.now())).toBe(true);
  await t.ctx.db
    .update(schema.messages)
    .set({ status: "done", processed_at: new Date(clock.now()).toISOString() })
    .where(eq(schema.messages.task_id, task.id));

  for (let i = 0; i < 6 && (await readTask(t.ctx, task.id)).status === "RUNNING"; i++) {
    clock.advance(TTL_MS / 2);
    await source.tick();
    await target.tick(); // a new life of the target: recovers stale claims only
  }
  const row = await readTask(t.ctx, task.id);
  expect(row.status).toBe("DONE");
  expect(row.claimed_at).toBeNull();
});

test("while the source still owns the tenant, its in-flight claim is renewed (not recovered by another instance)", async () => {
  const clock = new FakeClock(NOW);
  t = await createTestContext({ clock, env: { LEASE_TTL_MS: String(TTL_MS) } });
  const a = instance(t.ctx, "a");
  const b = instance(t.ctx, "b");
  const tenant = await insertTenant(t.ctx, { instance_id: "a", timezone: "UTC", onboarding_status: "LIVE" });
  const task = await createTask(
    a,
    tenant.id,
    { prompt: "Send the weekly report", run_at: new Date(NOW + MIN).toISOString() },
    "agent",
  );
  const source = createScheduler(a, conversationTaskDeps(a, idleQueue));
  const other = createScheduler(b, conversationTaskDeps(b, idleQueue));
  clock.advance(MIN);
  expect((await source.tick()).claimed).toBe(1);
  // The message is still queued (the source's dispatcher has not run it yet): the claim stays the source's.
  for (let i = 0; i < 4; i++) {
    clock.advance(TTL_MS / 2);
    await source.tick();
    expect((await other.tick()).recovered).toBe(0);
  }
  const row = await readTask(t.ctx, task.id);
  expect(row.status).toBe("RUNNING");
  expect(row.claimed_at).toBe(new Date(clock.now()).toISOString());
});
