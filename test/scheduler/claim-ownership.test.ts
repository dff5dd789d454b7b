import { describe, expect, test } from "bun:test";
import { claimDueTasks } from "../../src/scheduler/claims.ts";
import { createScheduler, createTask } from "../../src/scheduler/index.ts";
import type { FakeClock, TestContext } from "../helpers/index.ts";
import { DRIVERS, freshCaseEachTest, MIN, readTask, recordingDeps } from "./fixtures.ts";

// Two processes share the table. A process renews only the claims it made itself: once another process
// has claimed the task's next slot, that claim is the other's, and if the other process dies with it the
// claim must go stale and be recovered — not be kept fresh forever by the first process.
let t: TestContext;
let clock: FakeClock;
let tenantId: string;

for (const driver of DRIVERS) {
  describe(driver, () => {
    freshCaseEachTest(driver, (fresh) => ({ t, clock, tenantId } = fresh));

    test("A claimed slot 1 and B finished it; B claims slot 2 and dies → A does not keep B's claim alive; it is recovered and run once", async () => {
      const a = recordingDeps();
      const b = recordingDeps();
      const processA = createScheduler(t.ctx, a.deps);
      const processB = createScheduler(t.ctx, b.deps);
      const task = await createTask(t.ctx, tenantId, { prompt: "Hourly check", cron: "0 * * * *" }, "admin");

      clock.advance(MIN); // 09:00: A claims the slot; B's dispatcher happens to run the turn and reports the result
      expect((await processA.tick()).claimed).toBe(1);
      clock.advance(30_000);
      expect((await processB.applyRunResult(task.id, { ok: true }))?.next_run_at).toBe("2026-11-26T10:00:00.000Z");

      clock.advance(59 * MIN + 30_000); // 10:00: B claims the next slot and dies before handing it over
      const [claimedByB] = await claimDueTasks(t.ctx.db, clock.now(), 100);
      expect(claimedByB?.id).toBe(task.id);

      for (let minute = 0; minute < 7; minute++) {
        await processA.tick();
        clock.advance(MIN);
      }
      const row = await readTask(t.ctx, task.id);
      expect(a.enqueued.map((e) => e.prompt)).toEqual(["Hourly check", "Hourly check"]); // slot 1, then the recovered slot 2
      expect(row.status).toBe("RUNNING");
      expect(row.slot_at).toBe("2026-11-26T10:06:00.000Z"); // made due again once the claim was 5 minutes stale
      expect(row.last_error).toBe("the run was lost: the process stopped before it finished");
    });

    test("a process keeps renewing its own claim while the run waits, so it is never recovered twice", async () => {
      const a = recordingDeps();
      const processA = createScheduler(t.ctx, a.deps);
      const task = await createTask(t.ctx, tenantId, { prompt: "Hourly check", cron: "0 * * * *" }, "admin");
      clock.advance(MIN);
      await processA.tick();
      for (let minute = 0; minute < 30; minute++) {
        clock.advance(MIN);
        expect((await processA.tick()).recovered).toBe(0);
      }
      expect(a.enqueued).toHaveLength(1);
      expect((await readTask(t.ctx, task.id)).claimed_at).toBe(new Date(clock.now()).toISOString());
    });

    test("the run finished but its process died before reporting: the stale claim takes that result, the slot is not run again", async () => {
      const { deps, enqueued, notes } = recordingDeps();
      const asked: { taskId: string; since: string }[] = [];
      let result: { ok: boolean; error?: string } | null = { ok: true };
      const withResults = {
        ...deps,
        isTaskMessageOpen: async () => false,
        findTaskRunResult: async (taskId: string, since: string) => (asked.push({ taskId, since }), result),
      };
      const task = await createTask(t.ctx, tenantId, { prompt: "Hourly check", cron: "0 * * * *" }, "admin");
      clock.advance(MIN);
      await createScheduler(t.ctx, withResults).tick(); // 09:00 claimed and handed over; the process dies after the run
      const restarted = createScheduler(t.ctx, withResults);
      clock.advance(10 * MIN);
      expect((await restarted.tick()).recovered).toBe(0);
      expect(asked).toEqual([{ taskId: task.id, since: "2026-11-26T09:00:00.000Z" }]);
      expect(enqueued).toHaveLength(1); // not run again
      expect(await readTask(t.ctx, task.id)).toMatchObject({
        status: "PENDING",
        next_run_at: "2026-11-26T10:00:00.000Z",
        attempts: 0,
        last_error: null,
      });
      expect(notes.some((n) => n.line.includes("interrupted"))).toBe(false);

      clock.advance(50 * MIN); // 10:00 claimed; this run failed, and again the result was not reported
      await createScheduler(t.ctx, withResults).tick();
      result = { ok: false, error: "timeout: the agent took too long" };
      clock.advance(10 * MIN);
      await restarted.tick();
      expect(enqueued).toHaveLength(2);
      expect(await readTask(t.ctx, task.id)).toMatchObject({
        status: "PENDING",
        attempts: 1,
        last_error: "timeout: the agent took too long",
      });
    });
  });
}
