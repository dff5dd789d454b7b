import { afterAll, beforeAll, expect, test } from "bun:test";
import type { AppContext } from "../../src/context.ts";
import { createContext } from "../../src/runtime.ts";
import { createScheduler, createTask, listTasks } from "../../src/scheduler/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";

// Two schedulers on two connections to one database file (bun:sqlite and native libSQL, as two
// processes would have): every due slot must be claimed by exactly one of them.
let t: TestContext;
let second: AppContext;
const clock = new FakeClock(Date.parse("2026-11-26T09:00:00.000Z"));

beforeAll(async () => {
  t = await createTestContext({ clock });
  second = await createContext(t.ctx.config, { clock, log: t.ctx.log, driver: "libsql", migrate: false });
});
afterAll(async () => {
  await second.database.close();
  await t.cleanup();
});

test("concurrent ticks of two schedulers claim each slot once", async () => {
  const tenants = await Promise.all([0, 1, 2].map(async () => (await insertTenant(t.ctx)).id));
  const TASKS = 60;
  for (let i = 0; i < TASKS; i++) {
    const tenantId = tenants[i % tenants.length] ?? "";
    const input =
      i % 2 === 0 ? { prompt: `recurring ${i}`, cron: "* * * * *" } : { prompt: `once ${i}`, in_minutes: 1 };
    await createTask(t.ctx, tenantId, input, "admin");
  }
  const claims = new Map<string, string[]>();
  const record = (who: string) => ({
    async enqueueTask(_tenant: unknown, task: { taskId: string }) {
      claims.set(task.taskId, [...(claims.get(task.taskId) ?? []), who]);
      return crypto.randomUUID();
    },
  });
  // Small batches make the two claim loops interleave.
  const a = createScheduler(t.ctx, record("a"), { batchSize: 7 });
  const b = createScheduler(second, record("b"), { batchSize: 7 });

  clock.advance(60_000);
  await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
  expect(claims.size).toBe(TASKS);
  for (const [, who] of claims) expect(who).toHaveLength(1);
  const byA = [...claims.values()].filter((w) => w[0] === "a").length;
  const byB = [...claims.values()].filter((w) => w[0] === "b").length;
  expect(byA + byB).toBe(TASKS);

  // Finish every run, move to the next minute: the recurring half is claimed once more, each once.
  for (const taskId of claims.keys()) await a.applyRunResult(taskId, { ok: true });
  claims.clear();
  clock.advance(60_000);
  await Promise.all([b.tick(), a.tick(), b.tick()]);
  expect(claims.size).toBe(TASKS / 2);
  for (const [, who] of claims) expect(who).toHaveLength(1);
  expect(await listTasks(t.ctx.db, { status: "DONE" })).toHaveLength(TASKS / 2);
});
