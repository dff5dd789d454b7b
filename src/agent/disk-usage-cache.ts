import type { DiskUsage } from "./limits.ts";

/** How long a tenant's measured usage stands before the next run measures again. */
export const DISK_REMEASURE_MS = 10_000;
/** A usage at or above this share of the quota is measured again before every run (no reuse near the limit). */
export const DISK_REMEASURE_NEAR_QUOTA = 0.5;

/**
 * Reuses a tenant's last disk measurement (a `du` child per turn costs a warm follow-up more than everything else)
 * while it is recent and well below the quota: a run between two measures can add at most what one run can write,
 * which the pre-run check never bounded anyway; near the quota every run measures.
 */
export class DiskUsageCache {
  readonly #last = new Map<string, { atMs: number; bytes: number }>();

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly maxAgeMs = DISK_REMEASURE_MS,
  ) {}

  /** The cached usage of `key` when still good for a quota of `quotaBytes`, else a fresh `measure()` (remembered). */
  async usage(key: string, quotaBytes: number, measure: () => Promise<DiskUsage>): Promise<DiskUsage> {
    const last = this.#last.get(key);
    const at = this.now();
    if (last && at - last.atMs < this.maxAgeMs && last.bytes < quotaBytes * DISK_REMEASURE_NEAR_QUOTA)
      return { kind: "bytes", bytes: last.bytes };
    const measured = await measure();
    if (measured.kind === "bytes") this.#last.set(key, { atMs: this.now(), bytes: measured.bytes });
    else this.#last.delete(key);
    return measured;
  }

  /** Forgets a tenant's measure (its files changed outside its runs, e.g. a reset). */
  forget(key: string): void {
    this.#last.delete(key);
  }
}
