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
    throw new ValidationError(`timezone: unknown IANA time zone "${zone}" (e.g. "America/Denver", "Europe/Berlin", "UTC").`);
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
