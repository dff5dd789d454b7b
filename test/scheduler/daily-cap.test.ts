// S8 (task flood): at most TASK_MAX_RUNS_PER_DAY task runs per tenant per day of its zone; a task due past the cap
// is not run but deferred to the next day (a recurring one to its first slot then, a one-shot to midnight).
import { describe, expect, test } from "bun:test";
import { createScheduler, createTask } from "../../src/scheduler/index.ts";
import { countTaskRunsSince, insertTaskMessage } from "../../src/scheduler/task-queue.ts";
import type { SchedulerDeps } from "../../src/scheduler/task-runs.ts";
import { createTestContext, FakeClock, freshEachTest, insertTenant } from "../helpers/index.ts";
import { MIN, readTask } from "./fixtures.ts";

const CAP = 3;

const f = freshEachTest(
  async () => {
    const clock = new FakeClock(Date.parse("2026-11-26T08:59:00.000Z"));
    const t = await createTestContext({ clock, env: { TASK_MAX_RUNS_PER_DAY: String(CAP) } });
    const tenantId = (await insertTenant(t.ctx, { timezone: "America/Denver" })).id;
    const enqueued: string[] = [];
    const notes: string[] = [];
    const deps: SchedulerDeps = {
      async enqueueTask(tenant, task) {
        enqueued.push(task.taskId);
        return insertTaskMessage(t.ctx, tenant, task);
      },
      appendTimeline: (_id, line) => void notes.push(line),
      countTaskRunsSince: (id, since) => countTaskRunsSince(t.ctx, id, since),
    };
    return { t, clock, tenantId, enqueued, notes, scheduler: createScheduler(t.ctx, deps) };
  },
  (fx) => fx.t.cleanup(),
);

describe("daily cap on task runs", () => {
  test("a per-minute operator task runs CAP times, then is deferred to the tenant's next day (not run)", async () => {
    const { t, clock, tenantId, enqueued, notes, scheduler } = f;
    const task = await createTask(t.ctx, tenantId, { prompt: "Poll the till", cron: "* * * * *" }, "admin");
    for (let i = 0; i < CAP; i++) {
      clock.advance(MIN);
      expect((await scheduler.tick()).claimed).toBe(1);
      await scheduler.applyRunResult(task.id, { ok: true });
    }
    expect(enqueued).toHaveLength(CAP);
    clock.advance(MIN);
    await scheduler.tick();
    expect(enqueued).toHaveLength(CAP); // the run past the cap did not start
    const deferred = await readTask(t.ctx, task.id);
    // 2026-11-26 09:02Z is 02:02 in Denver; the next Denver midnight is 2026-11-27T07:00Z.
    expect(deferred).toMatchObject({ status: "PENDING", next_run_at: "2026-11-27T07:00:00.000Z", attempts: 0 });
    expect(deferred.last_error).toContain("daily limit");
    expect(notes.some((n) => n.includes(`limit of ${CAP} scheduled-task runs today`))).toBe(true);
    // Nothing runs for the rest of the day; the next day it runs again.
    clock.advance(60 * MIN);
    expect((await scheduler.tick()).claimed).toBe(0);
    clock.ms = Date.parse("2026-11-27T07:00:00.000Z");
    expect((await scheduler.tick()).claimed).toBe(1);
    expect(enqueued).toHaveLength(CAP + 1);
  });

  test("agent one-shots past the cap wait for midnight; operator tasks share the same cap", async () => {
    const { t, clock, tenantId, enqueued, scheduler } = f;
    const operator = await createTask(t.ctx, tenantId, { prompt: "Operator's", in_minutes: 1 }, "admin");
    const agents = [];
    for (let i = 0; i < 4; i++)
      agents.push(await createTask(t.ctx, tenantId, { prompt: `Agent ${i}`, in_minutes: 1 }, "agent"));
    clock.advance(MIN);
    expect((await scheduler.tick()).claimed).toBe(5);
    expect(enqueued).toHaveLength(CAP);
    const rows = await Promise.all([operator, ...agents].map((x) => readTask(t.ctx, x.id)));
    const deferred = rows.filter((r) => r.status === "PENDING");
    expect(deferred).toHaveLength(5 - CAP);
    for (const row of deferred) expect(row.next_run_at).toBe("2026-11-27T07:00:00.000Z");
    // Another tenant has its own allowance.
    const other = (await insertTenant(t.ctx, { timezone: "UTC" })).id;
    await createTask(t.ctx, other, { prompt: "Other's", in_minutes: 1 }, "agent");
    clock.advance(MIN);
    await scheduler.tick();
    expect(enqueued).toHaveLength(CAP + 1);
  });
});
