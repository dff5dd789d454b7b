import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { errorMessage } from "../errors.ts";
import { walkDiskUsage } from "./disk-walk.ts";

/** Processes (tasks, threads included) one run may have before fork fails. */
export const DEFAULT_MAX_PROCESSES = 1024;

/** The shell every run's wrapper script runs in (cgroup entry and limits, then exec). */
export const RUN_SHELL = "/bin/sh";

/**
 * How the limits are applied. `ulimit`: builtins in the run's `/bin/sh` wrapper (no extra exec), with the
 * flag this shell uses for RLIMIT_NPROC (`-u` in bash, `-p` in dash/ash; checked at start). `prlimit`:
 * util-linux `prlimit` before the CLI, when the shell check failed. Null: the limits cannot be applied.
 */
export type LimitMethod = { kind: "ulimit"; processesFlag: "-u" | "-p" } | { kind: "prlimit"; path: string } | null;

/** Resource limits applied to every agent run. */
export interface RunLimits {
  /** RLIMIT_NPROC (and the pids cgroup when one is available). */
  maxProcesses: number;
  /** The run's memory cap in MiB from AGENT_MEMORY_MB (default 1024): its cgroup's memory limit. Null = no cap. */
  memoryMb: number | null;
  /**
   * RLIMIT_AS in MiB: only where no memory cgroup holds the cap (address space is not memory: the CLI reserves far
   * more than it uses, so this fallback is cruder). Null = not set.
   */
  addressSpaceMb: number | null;
  /** Size of the sandbox's private /tmp (tmpfs) in MiB, from AGENT_TMP_MB (default 256). */
  tmpMb: number;
  method: LimitMethod;
}

/** The limits for this process's runs, from AGENT_MEMORY_MB, AGENT_TMP_MB and what the host has (RLIMIT_AS until a memory cgroup is found). */
export function resolveLimits(config: Config): RunLimits {
  const memoryMb = config.AGENT_MEMORY_MB;
  return {
    maxProcesses: DEFAULT_MAX_PROCESSES,
    memoryMb,
    addressSpaceMb: memoryMb,
    tmpMb: config.AGENT_TMP_MB,
    method: detectLimitMethod(),
  };
}

let detected: LimitMethod | undefined;

/**
 * Finds (once per process) how this host applies the limits: a shell `ulimit` flag that really sets
 * RLIMIT_NPROC and `-v` that really sets RLIMIT_AS (read back from /proc/self/limits), else prlimit.
 */
export function detectLimitMethod(): LimitMethod {
  if (detected !== undefined) return detected;
  detected = probeUlimit("-p") ?? probeUlimit("-u") ?? prlimitMethod();
  return detected;
}

function probeUlimit(flag: "-u" | "-p"): LimitMethod {
  try {
    const script = `ulimit ${flag} 977 2>/dev/null && ulimit -v 2099200 2>/dev/null && cat /proc/self/limits`;
    const result = Bun.spawnSync([RUN_SHELL, "-c", script], {
      env: { PATH: "/usr/bin:/bin" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "ignore",
    });
    const text = result.stdout.toString();
    const isSet =
      /^Max processes\s+977\s+977\b/m.test(text) && /^Max address space\s+2149580800\s+2149580800\b/m.test(text);
    return result.exitCode === 0 && isSet ? { kind: "ulimit", processesFlag: flag } : null;
  } catch {
    return null;
  }
}

function prlimitMethod(): LimitMethod {
  const path = ["/usr/bin/prlimit", "/usr/sbin/prlimit"].find((p) => existsSync(p));
  return path ? { kind: "prlimit", path } : null;
}

/**
 * The shell commands that apply the limits (soft and hard alike, like prlimit), e.g.
 * `ulimit -p 1024 && ulimit -v 2097152`; empty unless the method is `ulimit`.
 * Note: the kernel does not enforce RLIMIT_NPROC on root; see the pids cgroup in run-cgroup.ts.
 */
export function ulimitScript(limits: RunLimits): string {
  if (limits.method?.kind !== "ulimit") return "";
  const commands = [`ulimit ${limits.method.processesFlag} ${limits.maxProcesses}`];
  if (limits.addressSpaceMb !== null) commands.push(`ulimit -v ${limits.addressSpaceMb * 1024}`);
  return commands.join(" && ");
}

/**
 * The command prefix that applies the limits with prlimit before exec'ing the CLI, e.g.
 * `prlimit --nproc=1024 --as=2147483648 --`. Empty unless the method is `prlimit`.
 */
export function limitArgs(limits: RunLimits): string[] {
  if (limits.method?.kind !== "prlimit") return [];
  const args = [limits.method.path, `--nproc=${limits.maxProcesses}`];
  if (limits.addressSpaceMb !== null) args.push(`--as=${limits.addressSpaceMb * 1024 * 1024}`);
  args.push("--");
  return args;
}

/** Whether runs get the limits at all. */
export function hasLimits(limits: RunLimits): boolean {
  return limits.method !== null;
}

/**
 * The one `/bin/sh` that starts a run: moves itself into the run's cgroup files (`cgroupProcsFiles`), applies
 * the ulimit limits, then execs the rest. Null when there is nothing to do (no cgroup, limits not by ulimit).
 * A failure to enter the cgroup or to set a limit ends it with exit 125 before the CLI starts.
 */
export function runShellPrefix(cgroupProcsFiles: readonly string[], limits: RunLimits): string[] | null {
  const steps = cgroupProcsFiles.map((_, i) => `echo $$ > "$${i + 1}"`);
  const ulimits = ulimitScript(limits);
  if (ulimits !== "") steps.push(ulimits);
  if (steps.length === 0) return null;
  const shift = cgroupProcsFiles.length > 0 ? ` shift ${cgroupProcsFiles.length};` : "";
  return [RUN_SHELL, "-c", `${steps.join(" && ")} || exit 125;${shift} exec "$@"`, "sh", ...cgroupProcsFiles];
}

/**
 * Per-run cgroups: the kernel ignores RLIMIT_NPROC for root (the usual user in a Fly machine or a container),
 * so a process cap that holds as root needs the `pids` controller. When the host lets this process create
 * cgroups (root with cgroup v1 `pids`/`memory` hierarchies, or cgroup v2 with those controllers), every run gets
 * its own group under `proxystaff-agents/` with `pids.max` and, with AGENT_MEMORY_MB, a memory limit for the
 * whole run. Otherwise the RLIMIT limits (limits.ts) are all there is (and the start-up log says so).
 */
export interface CgroupSupport {
  version: 1 | 2;
  /** Base directories to create run groups in (v1: one per controller; v2: one). */
  bases: { controller: "pids" | "memory" | "unified"; dir: string }[];
}

const BASE_NAME = "proxystaff-agents";
const V2_ROOT = "/sys/fs/cgroup";

/** Finds cgroup support this process can use, creating the base groups; null when there is none. */
export function detectCgroups(root = V2_ROOT): CgroupSupport | null {
  try {
    if (existsSync(join(root, "cgroup.controllers"))) return detectV2(root);
    const pids = join(root, "pids");
    if (!existsSync(join(pids, "cgroup.procs"))) return null;
    const bases: CgroupSupport["bases"] = [{ controller: "pids", dir: ensureDir(join(pids, BASE_NAME)) }];
    const memory = join(root, "memory");
    if (existsSync(join(memory, "cgroup.procs")))
      bases.push({ controller: "memory", dir: ensureDir(join(memory, BASE_NAME)) });
    return { version: 1, bases };
  } catch {
    return null; // read-only /sys/fs/cgroup or no permission: runs go without a cgroup
  }
}

function detectV2(root: string): CgroupSupport | null {
  const controllers = readFileSync(join(root, "cgroup.controllers"), "utf8");
  if (!/\bpids\b/.test(controllers)) return null;
  const wanted = ["pids", ...(/\bmemory\b/.test(controllers) ? ["memory"] : [])];
  const base = ensureDir(join(root, BASE_NAME));
  for (const controller of wanted) {
    writeFileSync(join(root, "cgroup.subtree_control"), `+${controller}`);
    writeFileSync(join(base, "cgroup.subtree_control"), `+${controller}`);
  }
  return { version: 2, bases: [{ controller: "unified", dir: base }] };
}

function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** One run's cgroup(s). */
export interface RunCgroup {
  /** The group's `cgroup.procs` files: the run's shell writes its pid there before it execs the rest (see runShellPrefix). */
  procsFiles: string[];
  /** Which limit the run ran into, read after it ended. */
  limitHit(): "processes" | "memory" | null;
  /** Kills whatever is left in the group and removes it (best effort). */
  dispose(): void;
}

/** Creates the group for one run, or null when that fails (the run then goes without one). */
export function createRunCgroup(
  support: CgroupSupport,
  runId: string,
  limits: { maxProcesses: number; memoryMb: number | null },
): RunCgroup | null {
  const dirs: { controller: string; dir: string }[] = [];
  try {
    for (const base of support.bases) {
      if (base.controller === "memory" && limits.memoryMb === null) continue;
      const dir = join(base.dir, runId);
      mkdirSync(dir);
      dirs.push({ controller: base.controller, dir });
      if (base.controller !== "memory") writeFileSync(join(dir, "pids.max"), String(limits.maxProcesses));
      if (limits.memoryMb !== null && base.controller !== "pids") {
        const bytes = String(limits.memoryMb * 1024 * 1024);
        if (support.version === 2) writeFileSync(join(dir, "memory.max"), bytes);
        else writeFileSync(join(dir, "memory.limit_in_bytes"), bytes);
      }
    }
  } catch {
    for (const { dir } of dirs) tryRmdir(dir);
    return null;
  }
  const procsFiles = dirs.map(({ dir }) => join(dir, "cgroup.procs"));
  return {
    procsFiles,
    limitHit() {
      for (const { controller, dir } of dirs) {
        if (controller !== "memory" && eventCount(join(dir, "pids.events"), "max") > 0) return "processes";
        const memoryEvents = support.version === 2 ? join(dir, "memory.events") : join(dir, "memory.oom_control");
        if (controller !== "pids" && eventCount(memoryEvents, "oom_kill") > 0) return "memory";
      }
      return null;
    },
    dispose() {
      for (const file of procsFiles) for (const pid of readPids(file)) killQuietly(pid);
      for (const { dir } of dirs) removeWhenEmpty(dir);
    },
  };
}

/** Killed tasks leave their group only once reaped: retry the removal for a few seconds, in the background. */
function removeWhenEmpty(dir: string, attempt = 0): void {
  if (tryRmdir(dir) || attempt >= 20) return;
  setTimeout(() => removeWhenEmpty(dir, attempt + 1), 250).unref();
}

/** A run group's name: `run-<server pid>-<unique>`, so a sweep can tell whose it is. */
export function runCgroupName(unique: string): string {
  return `run-${process.pid}-${unique}`;
}

/**
 * Clears run groups whose server process is gone (a crash): kills what still runs there, removes the group. Groups of live servers —
 * this one or another ProxyStaff on the same machine — are left alone: a new group is empty for a moment
 * before its run moves in.
 */
export function removeStaleRunCgroups(support: CgroupSupport): void {
  for (const base of support.bases) {
    for (const entry of safeReaddir(base.dir)) {
      const owner = /^run-(\d+)-/.exec(entry)?.[1];
      if (!owner || isAlive(Number(owner))) continue;
      // Its server died: whatever still runs there is an orphaned run, and the restart will run that turn again.
      const dir = join(base.dir, entry);
      for (const pid of readPids(join(dir, "cgroup.procs"))) killQuietly(pid);
      removeWhenEmpty(dir);
    }
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function eventCount(file: string, key: string): number {
  try {
    const line = readFileSync(file, "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${key} `));
    return line ? Number(line.split(" ")[1]) || 0 : 0;
  } catch {
    return 0;
  }
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    // Gone already counts as removed; still busy (tasks not yet reaped) is retried, and swept at the next start.
    return (error as NodeJS.ErrnoException).code === "ENOENT";
  }
}

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
  /** statfs of a path (default: statfsSync, one cheap syscall, so the check waits for no thread); tests inject a nearly full volume. */
  statfs?: (path: string) => Promise<VolumeStats>;
  /** Time limit of one usage measurement. Default DISK_MEASURE_TIMEOUT_MS. */
  measureTimeoutMs?: number;
  /** Answers from a recent measurement or calls `measure` (see DiskUsageCache). Default: measure every time. */
  usageMemo?: (quotaBytes: number, measure: () => Promise<DiskUsage>) => Promise<DiskUsage>;
}

/** Why a run may not start, or null when it may. */
export type DiskRefusal = { kind: "disk_quota_exceeded" | "disk_space_low"; error: string } | null;

export type DiskUsage = { kind: "bytes"; bytes: number } | { kind: "timeout" } | { kind: "failed"; error: string };

/**
 * Measures the disk space `paths` use, like `du -skx` (blocks really used, links not followed, one file system), in
 * a child process so the event loop never walks a hostile tree; killed past `timeoutMs`. `command` replaces `du`
 * (tests).
 */
export async function measureDiskUsage(
  paths: readonly string[],
  options: { timeoutMs?: number; command?: string[] } = {},
): Promise<DiskUsage> {
  const argv = [...(options.command ?? ["du", "-s", "-k", "-x", "-P", "--"]), ...paths];
  let child: Bun.Subprocess<"ignore", "pipe", "pipe">;
  try {
    child = Bun.spawn(argv, {
      env: { PATH: "/usr/bin:/bin", LC_ALL: "C" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
  } catch (error) {
    return { kind: "failed", error: `du could not be started: ${errorMessage(error)}` };
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
  const [stdout, stderr] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]).finally(() => clearTimeout(timer));
  if (timedOut) return { kind: "timeout" };
  // One "<KiB>\t<path>" line per path; du exits 1 when a file vanished mid-walk, and its totals still stand.
  const totals = stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => Number(line.split("\t")[0]));
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
  try {
    const volume = options.statfs ? await options.statfs(config.TENANTS_DIR) : statfsSync(config.TENANTS_DIR);
    const free = volume.bavail * volume.bsize;
    const floor = Math.min(
      config.DISK_FREE_MIN_MB * MiB,
      (volume.blocks * volume.bsize * config.DISK_FREE_MIN_PERCENT) / 100,
    );
    if (free < floor) {
      return {
        kind: "disk_space_low",
        error: `the volume holding TENANTS_DIR has ${Math.floor(free / MiB)} MiB free, below its floor of ${Math.ceil(floor / MiB)} MiB (DISK_FREE_MIN_MB / DISK_FREE_MIN_PERCENT): new agent runs are refused until space is freed`,
      };
    }
  } catch (error) {
    options.warn?.("free space of TENANTS_DIR not checked", { error: errorMessage(error) });
  }
  const quotaMb = config.TENANT_DISK_MB;
  if (quotaMb === null) return null;
  const measure = async (): Promise<DiskUsage> => {
    const walked = walkQuietly(paths);
    return walked === null ? measureDiskUsage(paths, { timeoutMs: options.measureTimeoutMs }) : walked;
  };
  const usage = options.usageMemo ? await options.usageMemo(quotaMb * MiB, measure) : await measure();
  if (usage.kind === "failed") {
    options.warn?.("tenant disk usage not measured", { error: usage.error });
    return null;
  }
  if (usage.kind === "timeout") {
    return {
      kind: "disk_quota_exceeded",
      error: `the tenant's files could not be measured within the time limit (far too many files?); its disk quota is ${quotaMb} MiB (TENANT_DISK_MB)`,
    };
  }
  if (usage.bytes > quotaMb * MiB) {
    return {
      kind: "disk_quota_exceeded",
      error: `the tenant uses ${Math.ceil(usage.bytes / MiB)} MiB of its ${quotaMb} MiB disk quota (TENANT_DISK_MB, workspace and CLI directory): free space in the workspace or raise the quota`,
    };
  }
  return null;
}

/** The in-process walk of a small tree (see walkDiskUsage); null when the tree is big or the walk failed. */
function walkQuietly(paths: readonly string[]): DiskUsage | null {
  try {
    const bytes = walkDiskUsage(paths);
    return bytes === null ? null : { kind: "bytes", bytes };
  } catch {
    return null; // a root missing or unreadable: `du` reports it as it always did
  }
}
