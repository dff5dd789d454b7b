import { existsSync } from "node:fs";
import type { Config } from "../config.ts";

/** Processes (tasks, threads included) one run may have before fork fails. */
export const DEFAULT_MAX_PROCESSES = 1024;

/** Resource limits applied to every agent run. */
export interface RunLimits {
  /** RLIMIT_NPROC (and the pids cgroup when one is available). */
  maxProcesses: number;
  /** RLIMIT_AS in MiB from AGENT_MEMORY_MB (address space per process; the CLI itself needs about 1 GiB). Null = no cap. */
  memoryMb: number | null;
  /** `prlimit` from util-linux, under /usr so the sandbox sees it too; null = limits cannot be applied. */
  prlimitPath: string | null;
}

/** The limits for this process's runs, from AGENT_MEMORY_MB and what the host has. */
export function resolveLimits(config: Config): RunLimits {
  const prlimitPath = ["/usr/bin/prlimit", "/usr/sbin/prlimit"].find((p) => existsSync(p)) ?? null;
  return { maxProcesses: DEFAULT_MAX_PROCESSES, memoryMb: config.AGENT_MEMORY_MB ?? null, prlimitPath };
}

/**
 * The command prefix that applies the limits before exec'ing the CLI (inside the sandbox), e.g.
 * `prlimit --nproc=1024 --as=2147483648 --`. Empty when prlimit is missing.
 * Note: the kernel does not enforce RLIMIT_NPROC on root; see the pids cgroup in run-cgroup.ts.
 */
export function limitArgs(limits: RunLimits): string[] {
  if (!limits.prlimitPath) return [];
  const args = [limits.prlimitPath, `--nproc=${limits.maxProcesses}`];
  if (limits.memoryMb !== null) args.push(`--as=${limits.memoryMb * 1024 * 1024}`);
  args.push("--");
  return args;
}
