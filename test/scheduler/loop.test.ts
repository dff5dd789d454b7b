import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { schema } from "../../src/db/index.ts";
import { createScheduler, createTask } from "../../src/scheduler/index.ts";
import type { FakeClock, TestContext } from "../helpers/index.ts";
import { DRIVERS, freshCaseEachTest, MIN, readTask, recordingDeps, setTenant } from "./fixtures.ts";

let t: TestContext;
let clock: FakeClock;
let tenantId: string;

// Every case runs on both query drivers: bun:sqlite (embedded) and libSQL (as for a remote database).
for (const driver of DRIVERS) {
  describe(driver, () => {
    freshCaseEachTest(driver, (fresh) => ({ t, clock, tenantId } = fresh));

    describe("claiming and results", () => {
      test("a run reported ended is applied from its outcome as the messages hold it, on the next pass", async () => {
        const { deps } = recordingDeps();
        const outcomes = new Map<string, { ok: boolean; error?: string }>();
        let report: ((taskIds: string[]) => void) | undefined;
        const asked: { taskId: string; since: string }[] = [];
        const s = createScheduler(t.ctx, {
          ...deps,
          findTaskRunResult: async (taskId, since) => (asked.push({ taskId, since }), outcomes.get(taskId) ?? null),
          onTaskRunsEnded: (listener) => ((report = listener), () => (report = undefined)),
        });
        const task = await createTask(t.ctx, tenantId, { prompt: "Daily summary", cron: "0 9 * * *" }, "admin");
        clock.advance(MIN);
        expect((await s.tick()).claimed).toBe(1);
        s.service.start(); // subscribes to the reports
        const listener = report;
        await s.service.stop(); // unsubscribes; the passes below are driven by hand
        expect(report).toBeUndefined();
        expect(listener).toBeDefined();
        listener?.([task.id]); // ended, but its message not finished (a lost lease): nothing applied
        await s.tick();
        expect((await readTask(t.ctx, task.id)).status).toBe("RUNNING");
        outcomes.set(task.id, { ok: false, error: "timeout: too slow" });
        listener?.([task.id]);
        await s.tick();
        const row = await readTask(t.ctx, task.id);
        expect(row).toMatchObject({ status: "PENDING", attempts: 1, last_error: "timeout: too slow" });
        expect(asked.length).toBeGreaterThan(0);
        expect(asked.every((q) => q.taskId === task.id && q.since === "2026-11-26T09:00:00.000Z")).toBe(true);
      });

      test("a recurring task runs at its slot, then waits for the next one", async () => {
        const { deps, enqueued } = recordingDeps();
        const s = createScheduler(t.ctx, deps);
        const task = await createTask(t.ctx, tenantId, { prompt: "Daily summary", cron: "0 9 * * *" }, "admin");
        expect((await s.tick()).claimed).toBe(0);
        clock.advance(MIN);
        const pass = await s.tick();
        expect(pass.claimed).toBe(1);
        expect(enqueued).toEqual([{ tenantId, taskId: task.id, prompt: "Daily summary" }]);
        expect((await readTask(t.ctx, task.id)).status).toBe("RUNNING");
        expect((await s.tick()).claimed).toBe(0); // a RUNNING task is not claimed again
        clock.advance(30_000);
        const done = await s.applyRunResult(task.id, { ok: true });
        expect(done?.status).toBe("PENDING");
        expect(done?.next_run_at).toBe("2026-11-27T09:00:00.000Z");
        expect(done?.last_run_at).toBe("2026-11-26T09:00:30.000Z");
      });

      test("a one-shot becomes DONE; a late result for a cancelled task changes nothing", async () => {
        const { deps } = recordingDeps();
        const s = createScheduler(t.ctx, deps);
        const once = await createTask(t.ctx, tenantId, { prompt: "Remind me", in_minutes: 1 }, "agent");
        clock.advance(MIN);
        await s.tick();
        expect((await s.applyRunResult(once.id, { ok: true }))?.status).toBe("DONE");
        expect((await readTask(t.ctx, once.id)).next_run_at).toBeNull();
        expect(await s.applyRunResult(once.id, { ok: true })).toBeNull();
      });

      test("missed slots after downtime collapse into one catch-up run, noted as late", async () => {
        const { deps, enqueued, notes } = recordingDeps();
        const s = createScheduler(t.ctx, deps);
        const task = await createTask(t.ctx, tenantId, { prompt: "Hourly check", cron: "0 * * * *" }, "admin");
        clock.advance(5 * 60 * MIN); // down for 5 hours: slots 09:00 … 13:00 missed
        expect((await s.tick()).claimed).toBe(1);
        expect(enqueued).toHaveLength(1);
        expect(notes.some((n) => n.line.includes("running late") && n.line.includes("4 later slot"))).toBe(true);
        const after = await s.applyRunResult(task.id, { ok: true });
        expect(after?.next_run_at).toBe("2026-11-26T14:00:00.000Z");
        expect((await s.tick()).claimed).toBe(0);
      });

      test("a one-shot overdue at start runs once", async () => {
        const { deps, enqueued } = recordingDeps();
        const task = await createTask(t.ctx, tenantId, { prompt: "Send invoice", in_minutes: 10 }, "admin");
        clock.advance(3 * 60 * MIN);
        const s = createScheduler(t.ctx, deps);
        await s.tick();
        await s.tick();
        expect(enqueued.map((e) => e.taskId)).toEqual([task.id]);
        await s.applyRunResult(task.id, { ok: true });
        await s.tick();
        expect(enqueued).toHaveLength(1);
      });
    });

    describe("failures", () => {
      test("one-shot: retried after 1 min and 5 min, then FAILED with last_error", async () => {
        const { deps, enqueued, notes } = recordingDeps();
        const s = createScheduler(t.ctx, deps);
        const task = await createTask(t.ctx, tenantId, { prompt: "Email supplier", in_minutes: 1 }, "admin");
        clock.advance(MIN);
        await s.tick();
        let row = await s.applyRunResult(task.id, { ok: false, error: "timeout" });
        expect(row).toMatchObject({
          status: "PENDING",
          attempts: 1,
          last_error: "timeout",
          next_run_at: "2026-11-26T09:01:00.000Z",
        });
        clock.advance(59_000);
        expect((await s.tick()).claimed).toBe(0);
        clock.advance(1_000);
        expect((await s.tick()).claimed).toBe(1);
        row = await s.applyRunResult(task.id, { ok: false, error: "crash" });
        expect(row).toMatchObject({ status: "PENDING", attempts: 2, next_run_at: "2026-11-26T09:06:00.000Z" });
        clock.advance(5 * MIN);
        await s.tick();
        row = await s.applyRunResult(task.id, { ok: false, error: "credit_too_low" });
        expect(row).toMatchObject({ status: "FAILED", attempts: 3, last_error: "credit_too_low", next_run_at: null });
        expect(enqueued).toHaveLength(3);
        expect(notes.some((n) => n.line.includes("given up"))).toBe(true);
      });

      test("recurring: a failed slot still gets its next slot, with attempts reset", async () => {
        const { deps } = recordingDeps();
        const s = createScheduler(t.ctx, deps);
        const task = await createTask(t.ctx, tenantId, { prompt: "Every 10 min", cron: "*/10 * * * *" }, "admin");
        clock.advance(MIN); // 09:00
        await s.tick();
        let row = await s.applyRunResult(task.id, { ok: false, error: "timeout" });
        expect(row).toMatchObject({ attempts: 1, next_run_at: "2026-11-26T09:01:00.000Z" });
        clock.advance(MIN);
        await s.tick();
        row = await s.applyRunResult(task.id, { ok: false, error: "timeout" });
        // the 5-minute retry would be 09:06, before the next slot at 09:10
        expect(row).toMatchObject({ attempts: 2, next_run_at: "2026-11-26T09:06:00.000Z" });
        clock.advance(5 * MIN);
        await s.tick();
        row = await s.applyRunResult(task.id, { ok: false, error: "timeout" });
        expect(row).toMatchObject({
          status: "PENDING",
          attempts: 0,
          last_error: "timeout",
          next_run_at: "2026-11-26T09:10:00.000Z",
        });
      });

      test("a hand-over that throws counts as a failed attempt", async () => {
        const { deps } = recordingDeps({ failEnqueue: true });
        const s = createScheduler(t.ctx, deps);
        const task = await createTask(t.ctx, tenantId, { prompt: "x", in_minutes: 1 }, "admin");
        clock.advance(MIN);
        await s.tick();
        const row = await readTask(t.ctx, task.id);
        expect(row.status).toBe("PENDING");
        expect(row.attempts).toBe(1);
        expect(row.last_error).toContain("queue unavailable");
      });

      test("a RUNNING task whose process died is recovered after the claim TTL and runs once", async () => {
        const { deps, enqueued } = recordingDeps();
        const task = await createTask(t.ctx, tenantId, { prompt: "x", in_minutes: 1 }, "admin");
        clock.advance(MIN);
        await createScheduler(t.ctx, deps).tick(); // this "process" dies without a result
        expect(enqueued).toHaveLength(1);
        const restarted = createScheduler(t.ctx, deps);
        clock.advance(4 * MIN);
        expect((await restarted.tick()).recovered).toBe(0); // claim still fresh
        clock.advance(2 * MIN);
        const pass = await restarted.tick();
        expect(pass.recovered).toBe(1);
        expect(pass.claimed).toBe(1);
        expect(enqueued).toHaveLength(2);
        const row = await readTask(t.ctx, task.id);
        expect(row).toMatchObject({ status: "RUNNING", attempts: 1 });
        expect(row.last_error).toContain("process stopped");
        expect((await restarted.applyRunResult(task.id, { ok: true }))?.status).toBe("DONE");
      });

      test("a stale claim whose message the conversation still holds is kept, not run twice", async () => {
        const { deps, enqueued } = recordingDeps();
        let isOpen = true;
        const withQueue = { ...deps, isTaskMessageOpen: async () => isOpen };
        const task = await createTask(t.ctx, tenantId, { prompt: "x", in_minutes: 1 }, "admin");
        clock.advance(MIN);
        await createScheduler(t.ctx, withQueue).tick(); // claimed, queued; this process then dies
        const restarted = createScheduler(t.ctx, withQueue);
        clock.advance(10 * MIN);
        expect((await restarted.tick()).recovered).toBe(0);
        expect((await readTask(t.ctx, task.id)).status).toBe("RUNNING");
        isOpen = false; // the message is gone without a result (e.g. deleted): now it is recovered
        clock.advance(10 * MIN);
        expect((await restarted.tick()).recovered).toBe(1);
        expect(enqueued).toHaveLength(2);
      });

      test("a claim still in flight in this process is renewed, not recovered", async () => {
        const { deps, enqueued } = recordingDeps();
        const s = createScheduler(t.ctx, deps);
        await createTask(t.ctx, tenantId, { prompt: "x", in_minutes: 1 }, "admin");
        clock.advance(MIN);
        await s.tick();
        for (let i = 0; i < 5; i++) {
          clock.advance(2 * MIN);
          expect((await s.tick()).recovered).toBe(0);
        }
        expect(enqueued).toHaveLength(1);
      });
    });

    describe("tenant state", () => {
      test("PAUSED tenant: skipped, stays PENDING at its next slot, noted once", async () => {
        const { deps, enqueued, notes } = recordingDeps();
        const s = createScheduler(t.ctx, deps);
        const task = await createTask(t.ctx, tenantId, { prompt: "x", cron: "0 * * * *" }, "admin");
        await setTenant(t.ctx, tenantId, { onboarding_status: "PAUSED" });
        clock.advance(MIN);
        await s.tick();
        clock.advance(60 * MIN);
        await s.tick();
        expect(enqueued).toHaveLength(0);
        const row = await readTask(t.ctx, task.id);
        expect(row).toMatchObject({ status: "PENDING", next_run_at: "2026-11-26T11:00:00.000Z" });
        expect(notes.filter((n) => n.line.includes("paused"))).toHaveLength(1);
        await setTenant(t.ctx, tenantId, { onboarding_status: "LIVE" });
        clock.advance(60 * MIN);
        await s.tick();
        expect(enqueued).toHaveLength(1);
      });

      test("ARCHIVED tenant: the task is cancelled and noted", async () => {
        const { deps, enqueued, notes } = recordingDeps();
        const s = createScheduler(t.ctx, deps);
        const task = await createTask(t.ctx, tenantId, { prompt: "x", in_minutes: 1 }, "admin");
        await t.ctx.db.update(schema.tenants).set({ status: "ARCHIVED" }).where(eq(schema.tenants.id, tenantId));
        clock.advance(MIN);
        await s.tick();
        expect(enqueued).toHaveLength(0);
        expect((await readTask(t.ctx, task.id)).status).toBe("CANCELLED");
        expect(notes[0]?.line).toContain("archived");
      });
    });

    test("health reports lag of the oldest due task", async () => {
      const { deps } = recordingDeps();
      const s = createScheduler(t.ctx, deps);
      await createTask(t.ctx, tenantId, { prompt: "x", in_minutes: 1 }, "admin");
      clock.advance(3 * MIN);
      const part = await s.health();
      expect(part.fields).toMatchObject({ scheduler: { running: false, lag_ms: 2 * MIN } });
      expect(part.degraded).toBe(false);
    });
  });
}
