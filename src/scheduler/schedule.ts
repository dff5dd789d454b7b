import { Cron } from "croner";
import { ValidationError } from "../errors.ts";
import { canonicalTimezone } from "../tenants/index.ts";

/** Largest prompt a task may carry, in bytes of UTF-8. */
export const MAX_PROMPT_BYTES = 8 * 1024;

/** True when `zone` is an IANA time zone name this runtime knows ("Europe/Berlin", "UTC"). */
export function isKnownTimezone(zone: string): boolean {
  return canonicalTimezone(zone) !== null;
}

/** The zone's canonical spelling ("america/denver" → "America/Denver"); a ValidationError naming `timezone` if unknown. */
export function assertTimezone(zone: string): string {
  const canonical = canonicalTimezone(zone);
  if (!canonical) {
    throw new ValidationError(
      `timezone: unknown IANA time zone "${zone}" (e.g. "America/Denver", "Europe/Berlin", "UTC").`,
    );
  }
  return canonical;
}

/**
 * A croner calculator for a pattern in a zone (no callback: it schedules nothing).
 * Accepts 5 fields (minute precision), 6 fields (seconds first) or a nickname such as `@daily`.
 * Day-of-month and day-of-week combine with OR, like classic cron.
 */
export function cronFor(pattern: string, timezone: string): Cron {
  const trimmed = pattern.trim();
  const fields = trimmed.split(/\s+/).length;
  if (!trimmed.startsWith("@") && fields !== 5 && fields !== 6) {
    throw new ValidationError(
      `cron: "${pattern}" has ${fields} field(s); use 5 (minute hour day month weekday) or 6 (second first).`,
    );
  }
  assertTimezone(timezone);
  try {
    return new Cron(trimmed, { timezone });
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^CronPattern:\s*/, "") : String(err);
    throw new ValidationError(`cron: invalid pattern "${pattern}": ${detail}`);
  }
}

/** The first slot of `pattern` strictly after `afterMs`, in ms; null when the pattern never fires again. */
export function nextSlotAfter(pattern: string, timezone: string, afterMs: number): number | null {
  const next = cronFor(pattern, timezone).nextRun(new Date(afterMs));
  return next ? next.getTime() : null;
}

/** The newest slot of `pattern` at or before `atMs`, in ms; null when there is none. */
export function newestSlotAtOrBefore(pattern: string, timezone: string, atMs: number): number | null {
  const [previous] = cronFor(pattern, timezone).previousRuns(1, new Date(atMs + 1));
  return previous ? previous.getTime() : null;
}

/**
 * How many slots of `pattern` fall in (fromMs, toMs]: 0 or 1 means on time; more means slots
 * were missed (e.g. during downtime) and collapse into one run. Counting stops at `limit`.
 */
export function slotsBetween(pattern: string, timezone: string, fromMs: number, toMs: number, limit = 1000): number {
  const cron = cronFor(pattern, timezone);
  let count = 0;
  let cursor = new Date(fromMs);
  while (count < limit) {
    const next = cron.nextRun(cursor);
    if (!next || next.getTime() > toMs) break;
    count++;
    cursor = next;
  }
  return count;
}

/** Throws a ValidationError naming `prompt` when it is empty or over MAX_PROMPT_BYTES. */
export function assertPrompt(prompt: string): void {
  if (prompt.trim().length === 0) throw new ValidationError("prompt: must not be empty.");
  const bytes = Buffer.byteLength(prompt, "utf8");
  if (bytes > MAX_PROMPT_BYTES) {
    throw new ValidationError(`prompt: ${bytes} bytes is over the limit of ${MAX_PROMPT_BYTES} bytes (8 KiB).`);
  }
}

/**
 * Slots sampled for the interval floor. A pattern whose gaps all reach a floor of ≥ 300 s fires at most
 * 288 times a day, so 300 slots span a full day: every time-of-day combination and a day boundary is seen,
 * not just the first few (minutes "0,10,20,30,40,50,51" hide their 1-minute gap past the fifth slot).
 */
const FLOOR_SAMPLE_SLOTS = 300;

/**
 * Refuses a recurring pattern that would run more often than every `floorS` seconds: any gap between
 * consecutive upcoming slots below the floor is a ValidationError (code `task_too_frequent`) naming `cron`.
 * A floor of 0 accepts everything.
 */
export function assertMinInterval(pattern: string, timezone: string, nowMs: number, floorS: number): void {
  if (floorS <= 0) return;
  const slots = cronFor(pattern, timezone).nextRuns(FLOOR_SAMPLE_SLOTS, new Date(nowMs));
  for (let i = 1; i < slots.length; i++) {
    const gapMs = (slots[i]?.getTime() ?? 0) - (slots[i - 1]?.getTime() ?? 0);
    if (gapMs < floorS * 1000) {
      throw new ValidationError(
        `cron: "${pattern}" runs ${describeGap(gapMs)} apart (at ${slots[i - 1]?.toISOString()} and ${slots[i]?.toISOString()}); ` +
          `recurring tasks may run at most once every ${describeGap(floorS * 1000)}. Use a wider pattern (e.g. "*/${Math.max(5, Math.ceil(floorS / 60))} * * * *" or "0 9 * * *").`,
        "task_too_frequent",
      );
    }
  }
}

function describeGap(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

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
    throw new ValidationError(
      `run_at: ${new Date(atMs).toISOString()} is in the past (now is ${new Date(nowMs).toISOString()}).`,
    );
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
