// Small shared pieces of the benchmarks: temp folders, tool checks, process readings from /proc.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../test/helpers/index.ts";

/** The real Claude Code CLI installed as a dependency. */
export const REAL_CLI = join(REPO_ROOT, "node_modules", ".bin", "claude");

const made: string[] = [];

/** A fresh temp folder for one benchmark (removed by removeBenchDirs unless BENCH_KEEP=1). */
export function benchDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `proxystaff-bench-${name}-`));
  made.push(dir);
  return dir;
}

/** Removes the folders benchDir made. */
export function removeBenchDirs(): void {
  if (process.env.BENCH_KEEP === "1") {
    console.error(`kept: ${made.join(" ")}`);
    return;
  }
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** True when bubblewrap is installed and can create its namespaces here. */
export async function hasWorkingBwrap(): Promise<boolean> {
  try {
    const proc = Bun.spawn(
      ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all", "true"],
      { stdout: "ignore", stderr: "ignore" },
    );
    return (await proc.exited) === 0;
  } catch {
    return false; // not installed
  }
}

/** Resident memory of a process in MiB (VmRSS). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** CPU seconds (user + system) a process used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicksPerSecond();
}

let ticks: number | undefined;
function clockTicksPerSecond(): number {
  if (ticks === undefined) {
    const out = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe" }).stdout.toString().trim();
    ticks = Number(out) || 100;
  }
  return ticks;
}

/** The median of a list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
