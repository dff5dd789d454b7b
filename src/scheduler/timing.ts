import { Cron } from "croner";
import { ValidationError } from "../errors.ts";
import { nextSlotAfter } from "./schedule.ts";

const HAS_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Reads a one-shot time: an ISO-8601 time with an offset is absolute; without one it is local
 * time in `timezone` (so the agent can say "2026-12-01T09:00" in the tenant's zone).
 * Throws a ValidationError naming `run_at` when the text is no such time or it is before `nowMs`.
 */
export function parseRunAt(value: string, timezone: string, nowMs: number): number {
  const text = value.trim();
  if (!ISO_DATE_TIME.test(text)) {
    throw new ValidationError(`run_at: "${value}" is not an ISO-8601 date and time (e.g. "2026-12-01T09:00:00Z").`);
  }
  let atMs: number;
  if (HAS_OFFSET.test(text)) {
    atMs = Date.parse(text);
  } else {
    try {
      // A Date-like pattern makes croner a one-shot calculator that reads the text in `timezone`.
      atMs = new Cron(text, { timezone }).nextRun(new Date(0))?.getTime() ?? Number.NaN;
    } catch {
      atMs = Number.NaN;
    }
  }
  if (!Number.isFinite(atMs)) throw new ValidationError(`run_at: "${value}" is not a valid date and time.`);
  if (atMs < nowMs) {
    throw new ValidationError(`run_at: ${new Date(atMs).toISOString()} is in the past (now is ${new Date(nowMs).toISOString()}).`);
  }
  return atMs;
}

/** The first slot after `afterMs`; a pattern that never fires again is a ValidationError naming `cron`. */
export function requireNextSlot(cron: string, timezone: string, afterMs: number): number {
  const next = nextSlotAfter(cron, timezone, afterMs);
  if (next === null) throw new ValidationError(`cron: "${cron}" has no future slot.`);
  return next;
}

/** The calendar day around `nowMs` in `timezone`: its midnight and the next one, in ms (DST days are 23 or 25 h). */
export function dayAround(timezone: string, nowMs: number): { startMs: number; nextStartMs: number } {
  const midnight = new Cron("0 0 0 * * *", { timezone });
  const startMs = midnight.previousRuns(1, new Date(nowMs + 1))[0]?.getTime() ?? nowMs - 86_400_000;
  const nextStartMs = midnight.nextRun(new Date(nowMs))?.getTime() ?? nowMs + 86_400_000;
  return { startMs, nextStartMs };
}

/** Backoff before retry N (1-based) of a failed run: 1 min, then 5 min. */
export const RETRY_BACKOFF_MS = [60_000, 5 * 60_000] as const;
/** Runs of one slot (or one one-shot) before it counts as failed. */
export const MAX_ATTEMPTS = 3;

/** Delay before the retry that follows failed attempt number `attempts` (1-based). */
export function retryDelayMs(attempts: number): number {
  const index = Math.min(Math.max(attempts, 1), RETRY_BACKOFF_MS.length) - 1;
  return RETRY_BACKOFF_MS[index] ?? 5 * 60_000;
}
