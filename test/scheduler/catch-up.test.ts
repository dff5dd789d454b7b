import { describe, expect, test } from "bun:test";
import { createScheduler, createTask, updateTask } from "../../src/scheduler/index.ts";
import type { FakeClock, TestContext } from "../helpers/index.ts";
import { rejectionOf } from "../helpers/index.ts";
import { freshCaseEachTest, MIN, readTask, recordingDeps } from "./fixtures.ts";

let t: TestContext;
let clock: FakeClock;
let tenantId: string;

describe("catch_up_window_s: missed recurring slots", () => {
  freshCaseEachTest("bun-sqlite", (fresh) => ({ t, clock, tenantId } = fresh));

  test("a daily 09:00 task with a 1 h window after 3 h of downtime is skipped to the next day, and the timeline says so", async () => {
    const { deps, enqueued, notes } = recordingDeps();
    const s = createScheduler(t.ctx, deps);
    const task = await createTask(
      t.ctx,
      tenantId,
      { prompt: "Remind the customer to confirm", cron: "0 9 * * *", catch_up_window_s: 3600 },
      "admin",
    );
    clock.advance(3 * 60 * MIN); // 08:59 → 11:59: the 09:00 slot is almost 3 h old
    await s.tick();
    expect(enqueued).toHaveLength(0);
    const row = await readTask(t.ctx, task.id);
    expect(row).toMatchObject({ status: "PENDING", next_run_at: "2026-11-27T09:00:00.000Z", attempts: 0 });
    expect(row.last_error).toContain("catch-up window");
    const line = notes.find((n) => n.line.includes("skipped"));
    expect(line?.line).toContain("2026-11-26T09:00:00.000Z");
    expect(line?.line).toContain("3600 s");
    expect(line?.line).toContain("next run 2026-11-27T09:00:00.000Z");
    await s.tick();
    expect(enqueued).toHaveLength(0);
  });

  test("the default window (3600 s) still runs a slot missed 30 min ago, once", async () => {
    const { deps, enqueued } = recordingDeps();
    const s = createScheduler(t.ctx, deps);
    const task = await createTask(t.ctx, tenantId, { prompt: "Daily summary", cron: "0 9 * * *" }, "admin");
    expect(task.catch_up_window_s).toBe(3600);
    clock.advance(31 * MIN);
    await s.tick();
    expect(enqueued.map((e) => e.taskId)).toEqual([task.id]);
  });

  test("a wider window (4 h) runs the 3 h old slot once", async () => {
    const { deps, enqueued } = recordingDeps();
    const s = createScheduler(t.ctx, deps);
    const task = await createTask(
      t.ctx,
      tenantId,
      { prompt: "Daily summary", cron: "0 9 * * *", catch_up_window_s: 4 * 3600 },
      "admin",
    );
    clock.advance(3 * 60 * MIN);
    await s.tick();
    expect(enqueued.map((e) => e.taskId)).toEqual([task.id]);
  });

  test("0 = never catch up: 5 min late is skipped; on time (within the loop's minute of grace) runs", async () => {
    const { deps, enqueued } = recordingDeps();
    const s = createScheduler(t.ctx, deps);
    const late = await createTask(
      t.ctx,
      tenantId,
      { prompt: "9 am reminder", cron: "0 9 * * *", catch_up_window_s: 0 },
      "admin",
    );
    clock.advance(6 * MIN);
    await s.tick();
    expect(enqueued).toHaveLength(0);
    expect((await readTask(t.ctx, late.id)).next_run_at).toBe("2026-11-27T09:00:00.000Z");
    const onTime = await createTask(
      t.ctx,
      tenantId,
      { prompt: "10 am reminder", cron: "0 10 * * *", catch_up_window_s: 0 },
      "admin",
    );
    clock.advance(55 * MIN + 30_000); // 10:00:30
    await s.tick();
    expect(enqueued.map((e) => e.taskId)).toEqual([onTime.id]);
  });

  test("the window is validated (0 to 7 days, whole seconds) and can be changed", async () => {
    for (const bad of [-1, 1.5, 7 * 24 * 3600 + 1]) {
      const err = await rejectionOf(
        createTask(t.ctx, tenantId, { prompt: "x", cron: "0 9 * * *", catch_up_window_s: bad }, "admin"),
      );
      expect(err.message).toContain("catch_up_window_s");
    }
    const task = await createTask(t.ctx, tenantId, { prompt: "x", cron: "0 9 * * *" }, "admin");
    expect((await updateTask(t.ctx, task.id, { catch_up_window_s: 0 })).catch_up_window_s).toBe(0);
    expect((await updateTask(t.ctx, task.id, { paused: true })).catch_up_window_s).toBe(0);
  });
});
