import { afterAll, beforeAll, expect, test } from "bun:test";
import { createScheduler, createTask, getTask } from "../../src/scheduler/index.ts";
import type { Scheduler } from "../../src/scheduler/loop.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant } from "../helpers/index.ts";

// The real timer with the real clock: a seconds-level cron fires in two successive slots.
let t: TestContext;
let scheduler: Scheduler | undefined;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await scheduler?.service.stop();
  await t.cleanup();
});

test("an every-second task fires in two successive slots through the timer", async () => {
  const tenantId = (await insertTenant(t.ctx)).id;
  const slots: string[] = [];
  const hooks: Promise<unknown>[] = [];
  let resolveTwo: () => void = () => {};
  const twoRuns = new Promise<void>((resolve) => (resolveTwo = resolve));
  scheduler = createScheduler(t.ctx, {
    async enqueueTask(_tenantId, task) {
      const row = await getTask(t.ctx.db, task.taskId);
      slots.push(row.slot_at ?? "");
      // Stand-in for the conversation engine: the run ends right away.
      hooks.push(Bun.sleep(0).then(() => scheduler?.applyRunResult(task.taskId, { ok: true })));
      if (slots.length === 2) resolveTwo();
      return crypto.randomUUID();
    },
  });
  scheduler.service.start();
  // Created after start: the change signal re-arms the sleeping timer.
  const task = await createTask(t.ctx, tenantId, { prompt: "tick", cron: "* * * * * *" }, "admin");
  await Promise.race([twoRuns, Bun.sleep(10_000)]);
  await scheduler.service.stop();
  await Promise.all(hooks);
  expect(slots.length).toBeGreaterThanOrEqual(2);
  const [first, second] = slots.map((s) => Date.parse(s));
  expect((second ?? 0) - (first ?? 0)).toBe(1000);
  expect((await getTask(t.ctx.db, task.id)).status).not.toBe("CANCELLED");
});
