import { describe, expect, test } from "bun:test";
import { DISK_REMEASURE_MS, DiskUsageCache } from "../../src/agent/disk-usage-cache.ts";
import type { DiskUsage } from "../../src/agent/limits.ts";

const MiB = 1024 * 1024;
const QUOTA = 100 * MiB;

function counting(results: DiskUsage[]) {
  let calls = 0;
  return {
    measure: async (): Promise<DiskUsage> => results[Math.min(calls++, results.length - 1)]!,
    calls: () => calls,
  };
}

describe("DiskUsageCache: a tenant's usage is measured again only when due", () => {
  test("well below the quota: reused within DISK_REMEASURE_MS, measured again after it", async () => {
    let now = 0;
    const cache = new DiskUsageCache(() => now);
    const m = counting([
      { kind: "bytes", bytes: 10 * MiB },
      { kind: "bytes", bytes: 20 * MiB },
    ]);
    expect(await cache.usage("t1", QUOTA, m.measure)).toEqual({ kind: "bytes", bytes: 10 * MiB });
    now = DISK_REMEASURE_MS - 1;
    expect(await cache.usage("t1", QUOTA, m.measure)).toEqual({ kind: "bytes", bytes: 10 * MiB });
    expect(m.calls()).toBe(1);
    now = DISK_REMEASURE_MS;
    expect(await cache.usage("t1", QUOTA, m.measure)).toEqual({ kind: "bytes", bytes: 20 * MiB });
    expect(m.calls()).toBe(2);
  });

  test("at half the quota or more: measured before every run", async () => {
    const cache = new DiskUsageCache(() => 0);
    const m = counting([
      { kind: "bytes", bytes: 50 * MiB },
      { kind: "bytes", bytes: 150 * MiB },
    ]);
    await cache.usage("t1", QUOTA, m.measure);
    expect(await cache.usage("t1", QUOTA, m.measure)).toEqual({ kind: "bytes", bytes: 150 * MiB });
    expect(m.calls()).toBe(2);
  });

  test("per tenant; a timeout or failure is never reused; forget() drops a measure", async () => {
    const cache = new DiskUsageCache(() => 0);
    const m = counting([{ kind: "timeout" }, { kind: "bytes", bytes: MiB }]);
    expect(await cache.usage("t1", QUOTA, m.measure)).toEqual({ kind: "timeout" });
    expect(await cache.usage("t1", QUOTA, m.measure)).toEqual({ kind: "bytes", bytes: MiB });
    await cache.usage("t1", QUOTA, m.measure);
    expect(m.calls()).toBe(2);
    await cache.usage("t2", QUOTA, m.measure);
    expect(m.calls()).toBe(3);
    cache.forget("t1");
    await cache.usage("t1", QUOTA, m.measure);
    expect(m.calls()).toBe(4);
  });
});
