import { statfs as statfsAsync } from "node:fs/promises";
import type { Config } from "../config.ts";

const MiB = 1024 * 1024;
/** How long one measurement of a tenant's usage may take before the run is refused (a tree of millions of files). */
export const DISK_MEASURE_TIMEOUT_MS = 30_000;

/** The fields of statfs(2) the floor needs. */
export interface VolumeStats {
  bsize: number;
  blocks: number;
  bavail: number;
}

export interface DiskGuardOptions {
  /** statfs of a path (default: node:fs/promises statfs); tests inject a nearly full volume. */
  statfs?: (path: string) => Promise<VolumeStats>;
  /** Time limit of one usage measurement. Default DISK_MEASURE_TIMEOUT_MS. */
  measureTimeoutMs?: number;
}

/** Why a run may not start, or null when it may. */
export type DiskRefusal = { kind: "disk_quota_exceeded" | "disk_space_low"; error: string } | null;

export type DiskUsage = { kind: "bytes"; bytes: number } | { kind: "timeout" } | { kind: "failed"; error: string };

/**
 * Measures the disk space `paths` use, like `du -skx` (blocks really used, links not followed, one file system), in
 * a child process so the event loop never walks a hostile tree; killed past `timeoutMs`. `command` replaces `du`
 * (tests).
 */
export async function measureDiskUsage(paths: readonly string[], options: { timeoutMs?: number; command?: string[] } = {}): Promise<DiskUsage> {
  const argv = [...(options.command ?? ["du", "-s", "-k", "-x", "-P", "--"]), ...paths];
  let child: Bun.Subprocess<"ignore", "pipe", "pipe">;
  try {
    child = Bun.spawn(argv, { env: { PATH: "/usr/bin:/bin", LC_ALL: "C" }, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
  } catch (error) {
    return { kind: "failed", error: `du could not be started: ${error instanceof Error ? error.message : String(error)}` };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, "SIGKILL"); // its own process group: nothing it started keeps the pipes open
    } catch {
      // Already gone.
    }
  }, options.timeoutMs ?? DISK_MEASURE_TIMEOUT_MS);
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]).finally(() =>
    clearTimeout(timer),
  );
  if (timedOut) return { kind: "timeout" };
  // One "<KiB>\t<path>" line per path; du exits 1 when a file vanished mid-walk, and its totals still stand.
  const totals = stdout.split("\n").filter(Boolean).map((line) => Number(line.split("\t")[0]));
  if (totals.length !== paths.length || totals.some((n) => !Number.isFinite(n))) {
    return { kind: "failed", error: `du gave no total (${stderr.trim().split("\n")[0] ?? `exit ${child.exitCode}`})` };
  }
  return { kind: "bytes", bytes: totals.reduce((a, b) => a + b, 0) * 1024 };
}

/**
 * The checks before a run: the volume holding TENANTS_DIR above its free-space floor (below BOTH DISK_FREE_MIN_MB
 * and DISK_FREE_MIN_PERCENT → refused; only new runs — the server's own database writes go on), then the tenant's
 * usage (`paths`: its workspace and CLI directory) within TENANT_DISK_MB. A measurement that times out refuses the
 * run (a tree too big to measure is too big); one that cannot run at all (no `du`) lets it go, with a warning.
 */
export async function checkDiskBeforeRun(
  config: Pick<Config, "TENANTS_DIR" | "TENANT_DISK_MB" | "DISK_FREE_MIN_MB" | "DISK_FREE_MIN_PERCENT">,
  paths: readonly string[],
  options: DiskGuardOptions & { warn?: (msg: string, fields: Record<string, unknown>) => void } = {},
): Promise<DiskRefusal> {
  const statfs = options.statfs ?? statfsAsync;
  try {
    const volume = await statfs(config.TENANTS_DIR);
    const free = volume.bavail * volume.bsize;
    const floor = Math.min(config.DISK_FREE_MIN_MB * MiB, (volume.blocks * volume.bsize * config.DISK_FREE_MIN_PERCENT) / 100);
    if (free < floor) {
      return {
        kind: "disk_space_low",
        error: `the volume holding TENANTS_DIR has ${Math.floor(free / MiB)} MiB free, below its floor of ${Math.ceil(floor / MiB)} MiB (DISK_FREE_MIN_MB / DISK_FREE_MIN_PERCENT): new agent runs are refused until space is freed`,
      };
    }
  } catch (error) {
    options.warn?.("free space of TENANTS_DIR not checked", { error: error instanceof Error ? error.message : String(error) });
  }
  const quotaMb = config.TENANT_DISK_MB;
  if (quotaMb === null) return null;
  const usage = await measureDiskUsage(paths, { timeoutMs: options.measureTimeoutMs });
  if (usage.kind === "failed") {
    options.warn?.("tenant disk usage not measured", { error: usage.error });
    return null;
  }
  if (usage.kind === "timeout") {
    return { kind: "disk_quota_exceeded", error: `the tenant's files could not be measured within the time limit (far too many files?); its disk quota is ${quotaMb} MiB (TENANT_DISK_MB)` };
  }
  if (usage.bytes > quotaMb * MiB) {
    return {
      kind: "disk_quota_exceeded",
      error: `the tenant uses ${Math.ceil(usage.bytes / MiB)} MiB of its ${quotaMb} MiB disk quota (TENANT_DISK_MB, workspace and CLI directory): free space in the workspace or raise the quota`,
    };
  }
  return null;
}
