import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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
    if (existsSync(join(memory, "cgroup.procs"))) bases.push({ controller: "memory", dir: ensureDir(join(memory, BASE_NAME)) });
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
export function createRunCgroup(support: CgroupSupport, runId: string, limits: { maxProcesses: number; memoryMb: number | null }): RunCgroup | null {
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
    const line = readFileSync(file, "utf8").split("\n").find((l) => l.startsWith(`${key} `));
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
