/** Where time comes from; tests hand in a fake. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** ISO-8601 UTC text, the format every timestamp column uses (sorts as it compares). */
export function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}
