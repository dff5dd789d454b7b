import { existsSync } from "node:fs";
import type { Config } from "../config.ts";

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
  return { maxProcesses: DEFAULT_MAX_PROCESSES, memoryMb, addressSpaceMb: memoryMb, tmpMb: config.AGENT_TMP_MB, method: detectLimitMethod() };
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
    const result = Bun.spawnSync([RUN_SHELL, "-c", script], { env: { PATH: "/usr/bin:/bin" }, stdin: "ignore", stdout: "pipe", stderr: "ignore" });
    const text = result.stdout.toString();
    const isSet = /^Max processes\s+977\s+977\b/m.test(text) && /^Max address space\s+2149580800\s+2149580800\b/m.test(text);
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
