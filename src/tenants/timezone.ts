/** True when `tz` is an IANA time zone name the runtime knows (e.g. "America/Denver", "UTC"). */
export function isValidTimezone(tz: string): boolean {
  return canonicalTimezone(tz) !== null;
}

/**
 * The runtime's canonical spelling of an IANA zone ("utc" → "UTC", "america/denver" →
 * "America/Denver"), or null when it is not one. Raw offsets such as "+05:00" are refused:
 * they have no daylight-saving rules, so schedules would drift.
 */
export function canonicalTimezone(tz: string): string | null {
  if (typeof tz !== "string") return null;
  const name = tz.trim();
  if (name === "" || name.length > 64 || !/^[A-Za-z]/.test(name)) return null;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null; // RangeError: unknown time zone — that is the answer, not a failure
  }
}
