import type { AppContext } from "../context.ts";
import { ownerScope } from "../instances/index.ts";
import type { HealthContributor, Service } from "../ports.ts";
import { earliestNextRunAt } from "./claims.ts";
import type { SchedulerDeps, TaskRunResult } from "./task-runs.ts";
import { TaskRuns } from "./task-runs.ts";
import type { Task } from "./tasks.ts";
import { onTasksChanged } from "./tasks.ts";

/** Pause before looking again at a task that seemed due but could not be claimed. */
const MIN_IDLE_RETRY_MS = 1_000;

export interface SchedulerOptions {
  /** Longest sleep between looks at the table (the sanity wake). Default 60 000 ms. */
  maxSleepMs?: number;
  /** Tasks claimed per UPDATE. Default 100. */
  batchSize?: number;
  /** A RUNNING task whose claim is older than this is recovered. Default config.LEASE_TTL_MS. */
  claimTtlMs?: number;
  /** Lag past which GET /health reports the scheduler degraded. Default 300 000 ms. */
  degradedLagMs?: number;
}

/** The scheduler of one process: a service, a wake-up call, applying a run's result and a health part. */
export interface Scheduler {
  /** Starts (recovery, then the timer) and stops (lets a running pass finish) the loop. */
  service: Service;
  /** Re-arms the timer now (a task was added, changed or cancelled). */
  wake(): void;
  /**
   * Applies a run's result now (next slot, DONE, retry or FAILED). The loop itself reads results from
   * `messages` when the conversation reports a run ended (SchedulerDeps.onTaskRunsEnded); deps without
   * that (tests, stand-ins) report results here.
   */
  applyRunResult(taskId: string, result: TaskRunResult): Promise<Task | null>;
  /** One pass: renew claims, recover stale ones, claim and hand over due tasks. Tests call it with a fake clock. */
  tick(): Promise<{ claimed: number; recovered: number; nextRunAt: string | null }>;
  /** GET /health fields: `scheduler: {running, lag_ms, next_run_at, in_flight}`; degraded when far behind. */
  health: HealthContributor;
}

/**
 * One in-process timer over the scheduled_tasks table: it sleeps until the earliest next_run_at
 * (at most maxSleepMs), claims due rows with a conditional UPDATE, and hands each to `enqueueTask`;
 * when the conversation reports a task run ended, the next pass reads its outcome from `messages`.
 * Idle cost is one indexed query per wake, whatever the number of tasks.
 */
export function createScheduler(ctx: AppContext, deps: SchedulerDeps, options: SchedulerOptions = {}): Scheduler {
  const maxSleepMs = options.maxSleepMs ?? 60_000;
  const batchSize = options.batchSize ?? 100;
  const claimTtlMs = options.claimTtlMs ?? ctx.config.LEASE_TTL_MS;
  const degradedLagMs = options.degradedLagMs ?? 300_000;
  const runs = new TaskRuns(ctx, deps);
  const log = ctx.log.child({ component: "scheduler" });

  let isRunning = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<unknown> | undefined;
  let isWakeQueued = false;
  let unsubscribe: (() => void) | undefined;
  let unsubscribeRuns: (() => void) | undefined;
  let unsubscribeReplies: (() => void) | undefined;

  async function tick() {
    await runs.collectEnded();
    await runs.applyReplyFailures(); // after the outcomes, so none is written over a failed reply
    await runs.renewInFlight();
    const recovered = await runs.recoverStale(claimTtlMs, batchSize);
    const claimed = await runs.claimAndHandOver(batchSize);
    const nextRunAt = await earliestNextRunAt(ctx.db, ownerScope(ctx.config));
    return { claimed, recovered, nextRunAt };
  }

  function arm(nextRunAt: string | null, claimed: number) {
    if (!isRunning) return;
    // Renew in-flight claims well within their TTL, whatever the sleep would otherwise be.
    const cap = runs.inFlight.size > 0 ? Math.min(maxSleepMs, Math.floor(claimTtlMs / 3)) : maxSleepMs;
    const parsed = nextRunAt === null ? Number.NaN : Date.parse(nextRunAt);
    const untilNext = Number.isFinite(parsed) ? parsed - ctx.clock.now() : cap;
    // A row that looks due but was not claimable (a hand-edited timestamp) must not spin the loop.
    const floor = claimed === 0 && untilNext <= 0 ? MIN_IDLE_RETRY_MS : 0;
    const delay = Math.max(floor, Math.min(cap, untilNext));
    clearTimeout(timer);
    timer = setTimeout(runPass, delay);
  }

  function runPass() {
    if (!isRunning) return;
    if (current) {
      isWakeQueued = true;
      return;
    }
    clearTimeout(timer);
    current = tick()
      .then(
        (r) => r,
        (err: unknown) => {
          log.error("scheduler pass failed", { error: err });
          return { nextRunAt: null, claimed: 0 }; // the sanity wake tries again
        },
      )
      .then((r) => {
        current = undefined;
        if (isWakeQueued) {
          isWakeQueued = false;
          arm(new Date(0).toISOString(), 1);
        } else arm(r.nextRunAt, r.claimed);
      });
  }

  function wake() {
    if (!isRunning) return;
    if (current) isWakeQueued = true;
    else {
      clearTimeout(timer);
      timer = setTimeout(runPass, 0);
    }
  }

  const service: Service = {
    name: "scheduler",
    start() {
      if (isRunning) return;
      isRunning = true;
      unsubscribe = onTasksChanged(ctx.db, wake);
      unsubscribeRuns = deps.onTaskRunsEnded?.((taskIds) => {
        runs.noteEnded(taskIds);
        wake();
      });
      unsubscribeReplies = deps.onTaskRepliesFailed?.((failures) => {
        runs.noteReplyFailures(failures);
        wake();
      });
      log.info("scheduler started", { max_sleep_ms: maxSleepMs, claim_ttl_ms: claimTtlMs });
      runPass(); // the first pass recovers stale claims and runs overdue tasks once
    },
    async stop() {
      isRunning = false;
      clearTimeout(timer);
      unsubscribe?.();
      unsubscribeRuns?.();
      unsubscribeReplies?.();
      await current;
      log.info("scheduler stopped", { in_flight: runs.inFlight.size });
    },
  };

  async function applyRunResult(taskId: string, result: TaskRunResult) {
    const row = await runs.finish(taskId, result);
    wake();
    return row;
  }

  const health: HealthContributor = async () => {
    const nextRunAt = await earliestNextRunAt(ctx.db, ownerScope(ctx.config));
    const lagMs = nextRunAt ? Math.max(0, ctx.clock.now() - Date.parse(nextRunAt)) : 0;
    return {
      fields: {
        scheduler: { running: isRunning, lag_ms: lagMs, next_run_at: nextRunAt, in_flight: runs.inFlight.size },
      },
      degraded: isRunning && lagMs > degradedLagMs,
    };
  };

  return { service, wake, applyRunResult, tick, health };
}
