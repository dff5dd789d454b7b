/** Where time comes from; tests hand in a fake. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** ISO-8601 UTC text, the format every timestamp column uses (sorts as it compares). */
export function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

// Building an Intl.DateTimeFormat costs ~0.2 ms (ICU); formatting with a built one a few µs. One per
// (purpose, zone): a zone that throws is never stored, so the map holds at most a few hundred entries a purpose.
const zonedFormats = new Map<string, Intl.DateTimeFormat>();

/** A cached Intl.DateTimeFormat for one purpose (its locale and options) in one time zone. */
export function zonedFormat(
  purpose: string,
  locale: string,
  timeZone: string,
  options: Intl.DateTimeFormatOptions,
): Intl.DateTimeFormat {
  const key = `${purpose}\u0000${timeZone}`;
  let format = zonedFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, { ...options, timeZone });
    zonedFormats.set(key, format);
  }
  return format;
}

const LOCAL_DATE_OPTIONS: Intl.DateTimeFormatOptions = { year: "numeric", month: "2-digit", day: "2-digit" };

/** The calendar date ("2026-11-26") of an instant in a time zone; throws RangeError on an unknown zone. */
export function localDate(atMs: number, timeZone: string): string {
  // en-CA formats dates as YYYY-MM-DD.
  return zonedFormat("local-date", "en-CA", timeZone, LOCAL_DATE_OPTIONS).format(new Date(atMs));
}
