import { isoAt } from "../clock.ts";
import type { TaskTransition } from "./claims.ts";
import { nextSlotAfter, slotsBetween } from "./schedule.ts";
import type { Task } from "./tasks.ts";
import { MAX_ATTEMPTS, retryDelayMs } from "./timing.ts";

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
    return { invalid: err instanceof Error ? err.message : String(err) };
  }
}

function label(task: Task): string {
  const prompt = task.prompt.length > 60 ? `${task.prompt.slice(0, 57)}...` : task.prompt;
  return `Scheduled task ${task.id.slice(0, 8)} ("${prompt.replace(/\s+/g, " ")}")`;
}

/** Recurring: back to PENDING at the next slot after now (missed slots collapse); one-shot: DONE. */
export function afterSuccess(task: Task, nowMs: number): Outcome {
  const base = { attempts: 0, last_error: null, last_run_at: isoAt(nowMs), claimed_at: null };
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
      return { change: { ...base, status: "FAILED", attempts, next_run_at: null }, note: `${label(task)} failed ${attempts} times and was given up: ${error}` };
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
    note: isFirstSkip ? `${label(task)} skipped: the tenant is paused; it stays scheduled (next check ${isoAt(nextMs)}).` : undefined,
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

/** The tenant is ARCHIVED (or gone): the task is cancelled for good. */
export function afterTenantArchived(task: Task, nowMs: number): Outcome {
  return {
    change: { status: "CANCELLED", next_run_at: null, last_error: "cancelled: tenant is archived", claimed_at: null, last_run_at: isoAt(nowMs) },
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
