import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { errorMessage } from "../errors.ts";
import { ownerScope } from "../instances/index.ts";
import type { Tenant } from "../tenants/index.ts";
import { getTenant, servingRefusal } from "../tenants/index.ts";
import type { TaskTransition } from "./claims.ts";
import { claimDueTasks, findStaleClaims, recordReplyFailure, renewClaims, transitionRunning } from "./claims.ts";
import {
  dayAround,
  MAX_ATTEMPTS,
  newestSlotAtOrBefore,
  nextSlotAfter,
  retryDelayMs,
  slotsBetween,
} from "./schedule.ts";
import type { Task } from "./tasks.ts";
import { findTask } from "./tasks.ts";

/** What the scheduler needs from the conversation engine. */
export interface SchedulerDeps {
  /** Queues the task's prompt as a kind='task' message of the tenant (same queue and lease as chat); returns the message id. */
  enqueueTask(tenant: Tenant, task: { taskId: string; prompt: string }): Promise<string>;
  /** Appends a line to the tenant's timeline (Conversation.appendTimeline). Default: the line is only logged. */
  appendTimeline?(tenantId: string, line: string): Promise<void> | void;
  /**
   * True while the conversation engine still holds an unfinished message for this task (it will run
   * it, and its outcome is read then), so a stale claim is renewed instead of run twice. Default: always false.
   */
  isTaskMessageOpen?(taskId: string, tenantId?: string): Promise<boolean>;
  /**
   * How the task's message queued at or after `since` (the claimed slot's time) ended, when the
   * conversation engine finished it (done → ok; failed → its error), else null. This is how a run's outcome
   * comes back (after onTaskRunsEnded named the task), and how a process that died after the run finished
   * but before it applied the result is caught up: the slot then counts as run instead of being run twice.
   * Default: never known (results are then applied through Scheduler.applyRunResult; a lost one runs again).
   */
  findTaskRunResult?(taskId: string, since: string, tenantId?: string): Promise<TaskRunResult | null>;
  /**
   * Subscribes to the ends of task runs: `listener` gets the ids of tasks whose message's run just ended
   * (the scheduler then reads their outcomes with findTaskRunResult). Returns the undo. Default: none.
   */
  onTaskRunsEnded?(listener: (taskIds: string[]) => void): () => void;
  /**
   * How many task runs the conversation engine queued for the tenant since `since` (retries included):
   * with it, a tenant gets at most config.TASK_MAX_RUNS_PER_DAY runs per day of its zone. Default: no cap.
   */
  countTaskRunsSince?(tenantId: string, since: string): Promise<number>;
  /**
   * Subscribes to replies of task runs that failed for good in the outbox (after the run ended, so after its
   * outcome may already be applied): `listener` gets each task, the error, and when the run's message was
   * queued. Returns the undo. Default: none (a reply that failed before the outcome was read still counts,
   * through findTaskRunResult's deliveryError).
   */
  onTaskRepliesFailed?(listener: (failures: TaskReplyFailure[]) => void): () => void;
}

/** A task run's reply that the outbox could not deliver. */
export interface TaskReplyFailure {
  taskId: string;
  /** What the task row's last_error says ("reply not delivered: outside_whatsapp_window"). */
  error: string;
  /** When the run's message was queued (the run this failure belongs to ended after it). */
  since: string;
}

/** How a handed-over run ended, as reported by the conversation engine. */
export interface TaskRunResult {
  ok: boolean;
  /** The failure class or message when `ok` is false. */
  error?: string;
  /** The run succeeded but its reply failed for good in the outbox (last_error says so; no retry: the run did its work). */
  deliveryError?: string;
}

/** Claims, hand-overs, results and recovery of task runs; the loop decides when they happen. */
export class TaskRuns {
  /** Tasks this process claimed and handed over whose result has not come back yet: id → the claimed_at it holds. */
  readonly inFlight = new Map<string, string>();
  /** Tasks whose run was reported ended (onTaskRunsEnded) and whose outcome is still to be read from `messages`. */
  private readonly ended = new Set<string>();
  /** Replies of task runs that failed in the outbox, to be written to their task rows (applyReplyFailures). */
  private readonly replyFailures = new Map<string, TaskReplyFailure>();

  constructor(
    private readonly ctx: AppContext,
    private readonly deps: SchedulerDeps,
  ) {}

  /** Claims every due task (in batches) and hands each over; returns how many were claimed. */
  async claimAndHandOver(batchSize: number): Promise<number> {
    let total = 0;
    for (;;) {
      const nowMs = this.ctx.clock.now();
      const claimed = await claimDueTasks(this.ctx.db, nowMs, batchSize, ownerScope(this.ctx.config));
      total += claimed.length;
      for (const task of claimed) await this.handOver(task, nowMs);
      if (claimed.length < batchSize) return total;
    }
  }

  /** Notes tasks whose run ended; the next pass reads their outcomes (collectEnded). */
  noteEnded(taskIds: string[]): void {
    for (const taskId of taskIds) this.ended.add(taskId);
  }

  /** Notes replies of task runs that failed in the outbox; the next pass writes them (applyReplyFailures). */
  noteReplyFailures(failures: TaskReplyFailure[]): void {
    for (const failure of failures) this.replyFailures.set(failure.taskId, failure);
  }

  /**
   * Writes the failed replies noted since the last pass to their task rows' last_error. Runs after
   * collectEnded in the same pass, so a run's outcome is never written over it afterwards; a task still
   * RUNNING is left alone (its outcome, read from messages later, carries the failure: deliveryError).
   */
  async applyReplyFailures(): Promise<number> {
    const failures = [...this.replyFailures.values()];
    this.replyFailures.clear();
    let written = 0;
    for (const failure of failures) {
      const row = await recordReplyFailure(this.ctx.db, failure, this.ctx.clock.now());
      if (!row) continue;
      written++;
      this.ctx.log.warn("task reply not delivered", {
        tenantId: row.tenant_id,
        taskId: row.id,
        status: row.status,
        last_error: row.last_error,
      });
    }
    return written;
  }

  /**
   * Applies the outcomes of the runs reported ended, read from their messages (findTaskRunResult since the
   * claimed slot, as recovery does): a task still RUNNING whose message finished moves on. Returns how many.
   */
  async collectEnded(): Promise<number> {
    const taskIds = [...this.ended];
    this.ended.clear();
    if (!this.deps.findTaskRunResult) return 0;
    let applied = 0;
    for (const taskId of taskIds) {
      const task = await findTask(this.ctx.db, taskId);
      if (task?.status !== "RUNNING" || !task.slot_at) {
        this.inFlight.delete(taskId);
        continue;
      }
      const result = await this.deps.findTaskRunResult(task.id, task.slot_at, task.tenant_id);
      if (!result) continue; // not finished after all (the lease was lost): recovery or a later report takes it
      this.inFlight.delete(task.id);
      const nowMs = this.ctx.clock.now();
      const outcome = result.ok
        ? afterSuccess(task, nowMs, result.deliveryError)
        : afterFailure(task, result.error ?? "the run failed", nowMs);
      await this.apply(task, outcome, nowMs, result.ok ? "task run finished" : "task run failed");
      applied++;
    }
    return applied;
  }

  /**
   * Keeps the claims of runs still in flight fresh; forgets those finished (or claimed again) elsewhere,
   * and those of tenants moved to another instance (the new owner runs the message and reads its outcome).
   */
  async renewInFlight(): Promise<void> {
    const held = [...this.inFlight].map(([taskId, claimedAt]) => ({ taskId, claimedAt }));
    this.inFlight.clear();
    const scope = ownerScope(this.ctx.config);
    for (const claim of await renewClaims(this.ctx.db, held, this.ctx.clock.now(), scope))
      this.inFlight.set(claim.taskId, claim.claimedAt);
  }

  /** RUNNING tasks whose claim went stale (their process stopped) are made due now and run once more. */
  async recoverStale(ttlMs: number, batchSize: number): Promise<number> {
    const nowMs = this.ctx.clock.now();
    let recovered = 0;
    for (const task of await findStaleClaims(this.ctx.db, nowMs, ttlMs, batchSize)) {
      if (task.claimed_at !== null && this.inFlight.get(task.id) === task.claimed_at) continue;
      if (await this.deps.isTaskMessageOpen?.(task.id, task.tenant_id)) {
        if (task.claimed_at !== null)
          await renewClaims(this.ctx.db, [{ taskId: task.id, claimedAt: task.claimed_at }], nowMs);
        continue;
      }
      const finished = task.slot_at ? await this.deps.findTaskRunResult?.(task.id, task.slot_at, task.tenant_id) : null;
      if (finished) {
        const outcome = finished.ok
          ? afterSuccess(task, nowMs, finished.deliveryError)
          : afterFailure(task, finished.error ?? "the run failed", nowMs);
        await this.apply(
          task,
          outcome,
          nowMs,
          "task result recovered: the run had finished before its process stopped",
          task.claimed_at,
        );
        continue;
      }
      const outcome = afterFailure(task, "the run was lost: the process stopped before it finished", nowMs, {
        retryNow: true,
      });
      const row = await transitionRunning(this.ctx.db, task.id, outcome.change, nowMs, task.claimed_at);
      if (!row) continue;
      recovered++;
      this.ctx.log.warn("stale task claim recovered", {
        tenantId: task.tenant_id,
        taskId: task.id,
        claimed_at: task.claimed_at,
      });
      await this.note(
        task.tenant_id,
        outcome.note ?? `Scheduled task ${task.id.slice(0, 8)} was interrupted by a restart; running it again.`,
      );
    }
    return recovered;
  }

  /** Applies a run's result: next slot, DONE, retry with backoff or FAILED. Ignored unless the task is still RUNNING. */
  async finish(taskId: string, result: TaskRunResult): Promise<Task | null> {
    this.inFlight.delete(taskId);
    const task = await findTask(this.ctx.db, taskId);
    if (task?.status !== "RUNNING") {
      this.ctx.log.info("task result ignored: task is no longer running", { taskId, status: task?.status ?? null });
      return null;
    }
    const nowMs = this.ctx.clock.now();
    const outcome = result.ok
      ? afterSuccess(task, nowMs, result.deliveryError)
      : afterFailure(task, result.error ?? "the run failed", nowMs);
    return this.apply(task, outcome, nowMs, result.ok ? "task run finished" : "task run failed");
  }

  private async handOver(task: Task, nowMs: number): Promise<void> {
    const fields = { tenantId: task.tenant_id, taskId: task.id, slot_at: task.slot_at };
    const tenant = await getTenant(this.ctx.db, task.tenant_id);
    const refusal = servingRefusal(tenant);
    if (!tenant || (refusal !== null && refusal !== "tenant_paused")) {
      await this.apply(task, afterTenantArchived(task, nowMs), nowMs, "task cancelled: tenant archived");
      return;
    }
    if (refusal === "tenant_paused") {
      await this.apply(task, afterTenantPaused(task, nowMs), nowMs, "task skipped: tenant paused");
      return;
    }
    const missed = afterMissedSlot(task, nowMs);
    if (missed) {
      await this.apply(task, missed, nowMs, "task slot skipped: missed longer ago than its catch-up window");
      return;
    }
    const nextDayMs = await this.dailyCapReachedUntil(tenant, nowMs);
    if (nextDayMs !== null) {
      const cap = this.ctx.config.TASK_MAX_RUNS_PER_DAY;
      await this.apply(task, afterDailyCap(task, nextDayMs, cap), nowMs, "task deferred: daily run cap reached");
      return;
    }
    const lagMs = task.slot_at ? Math.max(0, nowMs - Date.parse(task.slot_at)) : 0;
    this.ctx.metrics.schedulerLagSeconds.set(lagMs / 1000);
    const late = lateNote(task, nowMs);
    if (late) await this.note(task.tenant_id, late);
    if (task.claimed_at !== null) this.inFlight.set(task.id, task.claimed_at);
    try {
      const messageId = await this.deps.enqueueTask(tenant, { taskId: task.id, prompt: task.prompt });
      this.ctx.log.info("task handed to conversation", {
        ...fields,
        messageId,
        lag_ms: lagMs,
        attempt: task.attempts + 1,
      });
    } catch (err) {
      this.ctx.log.error("task hand-over failed", { ...fields, error: err });
      await this.finish(task.id, { ok: false, error: `could not queue the task: ${errorMessage(err)}` });
    }
  }

  /** The start of the tenant's next day when it has used up today's task runs, else null. */
  private async dailyCapReachedUntil(tenant: Tenant, nowMs: number): Promise<number | null> {
    if (!this.deps.countTaskRunsSince) return null;
    const day = dayAround(tenant.timezone, nowMs);
    const used = await this.deps.countTaskRunsSince(tenant.id, isoAt(day.startMs));
    return used >= this.ctx.config.TASK_MAX_RUNS_PER_DAY ? day.nextStartMs : null;
  }

  private async apply(
    task: Task,
    outcome: Outcome,
    nowMs: number,
    msg: string,
    claimedAt?: string | null,
  ): Promise<Task | null> {
    const row = await transitionRunning(this.ctx.db, task.id, outcome.change, nowMs, claimedAt);
    if (!row) return null;
    const level = row.status === "FAILED" ? "warn" : "info";
    this.ctx.log[level](msg, {
      tenantId: task.tenant_id,
      taskId: task.id,
      status: row.status,
      attempts: row.attempts,
      next_run_at: row.next_run_at,
      last_error: row.last_error,
    });
    if (outcome.note) await this.note(task.tenant_id, outcome.note);
    return row;
  }

  private async note(tenantId: string, line: string): Promise<void> {
    if (!this.deps.appendTimeline) {
      this.ctx.log.info("task timeline note", { tenantId, note: line });
      return;
    }
    try {
      await this.deps.appendTimeline(tenantId, line);
    } catch (err) {
      this.ctx.log.warn("timeline append failed", { tenantId, note: line, error: err });
    }
  }
}

/** What to write for a run's end, and what a person should read about it in the timeline. */
export interface Outcome {
  change: TaskTransition;
  /** A line for the tenant's timeline, when the event is worth reading later. */
  note?: string;
}

/** How long a one-shot of a PAUSED tenant waits before it is looked at again. */
export const PAUSED_TENANT_RECHECK_MS = 15 * 60_000;
/** A one-shot that starts later than this after its time is reported as late. */
export const ONE_SHOT_LATE_MS = 60_000;

/** last_error of a task skipped because its tenant is paused (also: "already noted"). */
export const SKIPPED_TENANT_PAUSED = "skipped: tenant is paused";

type NextSlot = { ms: number | null } | { invalid: string };

function nextSlot(task: Task, afterMs: number): NextSlot {
  if (!task.cron) return { ms: null };
  try {
    return { ms: nextSlotAfter(task.cron, task.timezone, afterMs) };
  } catch (err) {
    // Only possible when the row was edited by hand (the API validates); the task cannot go on.
    return { invalid: errorMessage(err) };
  }
}

function label(task: Task): string {
  const prompt = task.prompt.length > 60 ? `${task.prompt.slice(0, 57)}...` : task.prompt;
  return `Scheduled task ${task.id.slice(0, 8)} ("${prompt.replace(/\s+/g, " ")}")`;
}

/**
 * Recurring: back to PENDING at the next slot after now (missed slots collapse); one-shot: DONE.
 * `deliveryError`: the run did its work but its reply failed in the outbox; last_error says so (no retry).
 */
export function afterSuccess(task: Task, nowMs: number, deliveryError?: string): Outcome {
  const base = { attempts: 0, last_error: deliveryError ?? null, last_run_at: isoAt(nowMs), claimed_at: null };
  const next = nextSlot(task, nowMs);
  if ("invalid" in next) return { change: { ...base, status: "FAILED", next_run_at: null, last_error: next.invalid } };
  if (next.ms === null) return { change: { ...base, status: "DONE", next_run_at: null } };
  return { change: { ...base, status: "PENDING", next_run_at: task.paused ? null : isoAt(next.ms) } };
}

/**
 * A failed run: attempts+1 and last_error; retried after 1 min, then 5 min (or at once for a run lost
 * with its process), up to MAX_ATTEMPTS. Then a one-shot is FAILED and a recurring task waits for its
 * next slot with attempts reset. A recurring retry never goes past the next slot.
 */
export function afterFailure(task: Task, error: string, nowMs: number, options: { retryNow?: boolean } = {}): Outcome {
  const attempts = task.attempts + 1;
  const base = { last_error: error.slice(0, 2000), claimed_at: null, last_run_at: isoAt(nowMs) };
  const next = nextSlot(task, nowMs);
  if ("invalid" in next) return { change: { ...base, status: "FAILED", attempts, next_run_at: null } };
  if (attempts >= MAX_ATTEMPTS) {
    if (next.ms === null) {
      return {
        change: { ...base, status: "FAILED", attempts, next_run_at: null },
        note: `${label(task)} failed ${attempts} times and was given up: ${error}`,
      };
    }
    return {
      change: { ...base, status: "PENDING", attempts: 0, next_run_at: task.paused ? null : isoAt(next.ms) },
      note: `${label(task)} failed ${attempts} times this slot (${error}); it will run again at ${isoAt(next.ms)}.`,
    };
  }
  const retryMs = nowMs + (options.retryNow ? 0 : retryDelayMs(attempts));
  if (next.ms !== null && next.ms <= retryMs) {
    return { change: { ...base, status: "PENDING", attempts: 0, next_run_at: task.paused ? null : isoAt(next.ms) } };
  }
  return { change: { ...base, status: "PENDING", attempts, next_run_at: task.paused ? null : isoAt(retryMs) } };
}

/** The tenant is PAUSED: the task stays scheduled (next slot, or a later look for a one-shot), noted once. */
export function afterTenantPaused(task: Task, nowMs: number): Outcome {
  const next = nextSlot(task, nowMs);
  const nextMs = "invalid" in next || next.ms === null ? nowMs + PAUSED_TENANT_RECHECK_MS : next.ms;
  const isFirstSkip = task.last_error !== SKIPPED_TENANT_PAUSED;
  return {
    change: { status: "PENDING", next_run_at: isoAt(nextMs), last_error: SKIPPED_TENANT_PAUSED, claimed_at: null },
    note: isFirstSkip
      ? `${label(task)} skipped: the tenant is paused; it stays scheduled (next check ${isoAt(nextMs)}).`
      : undefined,
  };
}

/** last_error of a task deferred because its tenant reached TASK_MAX_RUNS_PER_DAY. */
export const DEFERRED_DAILY_CAP = "deferred: the tenant reached its daily limit of task runs";

/**
 * The tenant already had `cap` task runs today: the task does not run now. A recurring task waits for its
 * first slot of the next day (today's remaining slots are skipped, not caught up); a one-shot runs at the
 * next day's midnight, in the tenant's zone. Attempts are untouched: no run happened.
 */
export function afterDailyCap(task: Task, nextDayMs: number, cap: number): Outcome {
  const next = nextSlot(task, nextDayMs - 1);
  const nextMs = "invalid" in next || next.ms === null ? nextDayMs : next.ms;
  return {
    change: { status: "PENDING", next_run_at: isoAt(nextMs), last_error: DEFERRED_DAILY_CAP, claimed_at: null },
    note: `${label(task)} did not run: this business reached its limit of ${cap} scheduled-task runs today; next run ${isoAt(nextMs)}.`,
  };
}

/** last_error of a recurring task whose missed slot was skipped (older than its catch_up_window_s). */
export const SKIPPED_MISSED_SLOT = "skipped: the missed slot was older than the task's catch-up window";
/** How late a slot may start and still count as on time, whatever the window (the loop's own latency). */
export const ON_TIME_GRACE_MS = 60_000;

/**
 * A recurring task claimed late (the server was down): the newest slot it missed decides. Older than the
 * task's catch_up_window_s (at least ON_TIME_GRACE_MS, so 0 = never catch up still lets the loop's normal
 * latency through) → no run: PENDING at the next slot, and a timeline line says so. Else null: it runs once.
 * Retries (attempts > 0) are late on purpose and one-shots always run.
 */
export function afterMissedSlot(task: Task, nowMs: number): Outcome | null {
  const slotMs = task.slot_at ? Date.parse(task.slot_at) : Number.NaN;
  if (!task.cron || task.attempts > 0 || !Number.isFinite(slotMs)) return null;
  let newestMs: number;
  try {
    newestMs = Math.max(slotMs, newestSlotAtOrBefore(task.cron, task.timezone, nowMs) ?? slotMs);
  } catch {
    return null; // an invalid pattern is reported when the run ends
  }
  const lateMs = nowMs - newestMs;
  if (lateMs <= Math.max(task.catch_up_window_s * 1000, ON_TIME_GRACE_MS)) return null;
  const next = nextSlot(task, nowMs);
  if ("invalid" in next || next.ms === null) return null;
  return {
    change: {
      status: "PENDING",
      next_run_at: task.paused ? null : isoAt(next.ms),
      last_error: SKIPPED_MISSED_SLOT,
      claimed_at: null,
    },
    note: `${label(task)} skipped the run due ${isoAt(newestMs)}: it was missed (the server was down) and is ${Math.round(lateMs / 60_000)} min late, more than its catch-up window of ${task.catch_up_window_s} s; next run ${isoAt(next.ms)}.`,
  };
}

/** The tenant is ARCHIVED (or gone): the task is cancelled for good. */
export function afterTenantArchived(task: Task, nowMs: number): Outcome {
  return {
    change: {
      status: "CANCELLED",
      next_run_at: null,
      last_error: "cancelled: tenant is archived",
      claimed_at: null,
      last_run_at: isoAt(nowMs),
    },
    note: `${label(task)} cancelled: the tenant is archived.`,
  };
}

/**
 * When a claimed run starts late: a recurring task that missed one or more later slots (they
 * collapse into this one run), or a one-shot more than a minute past its time. Null when on time.
 */
export function lateNote(task: Task, nowMs: number): string | null {
  const slotMs = task.slot_at ? Date.parse(task.slot_at) : Number.NaN;
  if (!Number.isFinite(slotMs) || task.attempts > 0) return null; // a retry is late on purpose
  if (task.cron) {
    let missed = 0;
    try {
      missed = slotsBetween(task.cron, task.timezone, slotMs, nowMs, 1000);
    } catch {
      return null; // an invalid pattern is reported when the run ends
    }
    if (missed === 0) return null;
    const count = missed >= 1000 ? "1000+" : String(missed);
    return `${label(task)} is running late: due ${task.slot_at}, ${count} later slot(s) missed meanwhile; running once now.`;
  }
  if (nowMs - slotMs > ONE_SHOT_LATE_MS) return `${label(task)} is running late: it was due ${task.slot_at}.`;
  return null;
}
