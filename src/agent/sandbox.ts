import { randomUUID } from "node:crypto";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { HealthPart } from "../ports.ts";
import type { ResolvedAgentCommand } from "./command.ts";
import type { CgroupSupport, RunLimits } from "./limits.ts";
import {
  createRunCgroup,
  detectCgroups,
  hasLimits,
  limitArgs,
  removeStaleRunCgroups,
  resolveLimits,
  runCgroupName,
  runShellPrefix,
} from "./limits.ts";
import type { RunUser } from "./run-user.ts";
import { decideRunUser, PROBE_UID, runAsArgs, SETPRIV } from "./run-user.ts";

/** How agent runs are isolated, decided once at start from AGENT_SANDBOX and a real bwrap check. */
export interface SandboxStatus {
  /** What the operator asked for. */
  requested: "auto" | "bwrap" | "none";
  /** What runs get: "bwrap" (isolated) or "off". */
  mode: "bwrap" | "off";
  bwrapPath: string | null;
  /** Why isolation is off (null when on). Shown in /health and at start. */
  warning: string | null;
  limits: RunLimits;
  /** Per-run cgroups (pids, memory) when the host allows them; null = only the RLIMIT limits. */
  cgroups: CgroupSupport | null;
  /** Whether runs switch to their tenant's uid (root server) or keep the server's (with a warning). */
  runUser: RunUser;
}

/** One run, wrapped: the argv to spawn and what to do after it ended. */
export interface PreparedRun {
  argv: string[];
  /** A memory cap was in force (a kill by SIGKILL/SIGABRT/SIGSEGV then counts as hitting it). */
  memoryLimited: boolean;
  /** The limit its cgroup recorded hitting, if any. */
  limitHit(): "processes" | "memory" | null;
  /** Removes the run's cgroup (kills leftovers). */
  dispose(): void;
}

/** What the sandbox needs to know about one run. */
export interface WrapInput {
  /** The CLI's argv (executable first). */
  argv: string[];
  workspace: string;
  tenantConfigDir: string;
  platformCredentials: string | null;
  command: ResolvedAgentCommand;
  /** The tenant's host uid (tenants.uid): the run executes as it when the server is root. */
  uid: number;
}

export interface CheckSandboxOptions {
  log?: Logger;
  /** PATH to look for `bwrap` on (besides /usr/bin and /bin). */
  hostPath?: string;
  /** Use this bwrap (null = pretend it is not installed); default: looked up on PATH. */
  bwrapPath?: string | null;
  /** Who runs execute as; default decided from this process's uid (root → each tenant's uid). */
  runUser?: RunUser;
}

/** Raised at start when AGENT_SANDBOX=bwrap and bubblewrap does not work here. */
export class SandboxUnavailableError extends Error {
  override name = "SandboxUnavailableError";
}

export const BWRAP_INSTALL_HINT =
  "Install bubblewrap (Debian/Ubuntu: `apt-get install -y bubblewrap`; Alpine: `apk add bubblewrap`; Fedora: `dnf install bubblewrap`). " +
  "It needs user namespaces or root; in Docker run with --privileged or a seccomp/AppArmor profile that allows unshare.";

/**
 * Decides the sandbox for this process: runs `bwrap` with the same mounts as a real run on `true`.
 * `auto`: bwrap when that works, else off with a loud warning. `bwrap`: throws SandboxUnavailableError (the
 * server refuses to start) when it fails. `none`: off, with a plain warning that tenants are not isolated.
 */
export function checkSandbox(
  config: Config,
  command: ResolvedAgentCommand,
  options: CheckSandboxOptions = {},
): SandboxStatus {
  const { log } = options;
  const requested = config.AGENT_SANDBOX;
  const limits = resolveLimits(config);
  const runUser = options.runUser ?? decideRunUser(log);
  const decided = (mode: SandboxStatus["mode"], bwrapPath: string | null, warning: string | null): SandboxStatus => {
    const cgroups = setUpCgroups(log);
    return { requested, mode, bwrapPath, warning, limits: withMemoryCgroup(limits, cgroups), cgroups, runUser };
  };
  if (requested === "none") {
    const warning =
      "AGENT_SANDBOX=none: agent runs are NOT isolated — every tenant's agent can read other tenants' files, the database and DATA_DIR";
    log?.warn("agent sandbox off", { reason: warning });
    return decided("off", null, warning);
  }
  const bwrapPath =
    options.bwrapPath !== undefined
      ? options.bwrapPath
      : Bun.which("bwrap", { PATH: `${options.hostPath ?? ""}:/usr/bin:/bin` });
  const failure = bwrapPath ? probeBwrap(bwrapPath, command, limits, runUser) : "bwrap is not installed";
  if (failure === null && bwrapPath) {
    log?.info("agent sandbox on", {
      sandbox: "bwrap",
      bwrap: bwrapPath,
      maxProcesses: limits.maxProcesses,
      memoryMb: limits.memoryMb,
      tmpMb: limits.tmpMb,
    });
    return decided("bwrap", bwrapPath, null);
  }
  if (requested === "bwrap") {
    throw new SandboxUnavailableError(
      `AGENT_SANDBOX=bwrap but the sandbox does not work here: ${failure}. ${BWRAP_INSTALL_HINT}`,
    );
  }
  const warning = `agent runs are NOT isolated (AGENT_SANDBOX=auto and ${failure}): tenants' agents can read each other's files and DATA_DIR. ${BWRAP_INSTALL_HINT} Production should set AGENT_SANDBOX=bwrap.`;
  // warn, not error: it is a known, chosen state (auto on a machine without bubblewrap), not a failure; the line stays loud.
  log?.warn("AGENT SANDBOX OFF", { reason: warning });
  return decided("off", null, warning);
}

/**
 * The run limits and cgroup support for other code that runs agent-editable files (tool health checks), without the
 * bwrap probe or the start-up logging of checkSandbox.
 */
export function runLimitsFor(config: Config): { limits: RunLimits; cgroups: CgroupSupport | null } {
  const cgroups = detectCgroups();
  return { limits: withMemoryCgroup(resolveLimits(config), cgroups), cgroups };
}

/** With a memory cgroup the cap is the group's; RLIMIT_AS stays only as the fallback where there is none. */
function withMemoryCgroup(limits: RunLimits, cgroups: CgroupSupport | null): RunLimits {
  return hasMemoryCgroup(cgroups) ? { ...limits, addressSpaceMb: null } : limits;
}

function hasMemoryCgroup(cgroups: CgroupSupport | null): boolean {
  return cgroups?.bases.some((b) => b.controller !== "pids") ?? false;
}

/** Runs bwrap with a run's mounts (temporary workspace and CLI directory) and uid on `true`; null when it works. */
function probeBwrap(
  bwrapPath: string,
  command: ResolvedAgentCommand,
  limits: RunLimits,
  runUser: RunUser,
): string | null {
  const scratch = mkdtempSync(join(tmpdir(), "proxystaff-sandbox-check-"));
  try {
    const workspace = join(scratch, "workspace");
    const configDir = join(scratch, "config");
    mkdirSync(workspace);
    mkdirSync(configDir);
    const runAs = runAsArgs(runUser, PROBE_UID);
    if (runAs.length > 0) givePrivateScratch(scratch, [workspace, configDir], PROBE_UID);
    const mounts = {
      workspace,
      tenantConfigDir: configDir,
      platformCredentials: null,
      cliFiles: command.ownFiles,
      tmpMb: limits.tmpMb,
    };
    const sandboxed = [
      ...runAs,
      bwrapPath,
      ...bwrapArgs(mounts),
      ...userNamespaceArgs(runAs),
      "--",
      ...limitArgs(limits),
      "true",
    ];
    const argv = [...(runShellPrefix([], limits) ?? []), ...sandboxed];
    const result = Bun.spawnSync(argv, {
      env: { PATH: "/usr/bin:/bin" },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    if (result.exitCode === 0) return null;
    const detail = result.stderr.toString().trim().split("\n")[0] ?? "";
    return `bwrap failed (exit ${result.exitCode}${detail ? `: ${detail}` : ""})`;
  } catch (error) {
    return `bwrap could not be started (${errorMessage(error)})`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * A probe's scratch folders as a run's are: the temp parent traversable (0711), the folders owned by `uid`, 0700.
 * Exported for the self-check, which probes from a scratch folder the same way.
 */
export function givePrivateScratch(scratch: string, dirs: readonly string[], uid: number): void {
  chmodSync(scratch, 0o711);
  for (const dir of dirs) {
    chownSync(dir, uid, uid);
    chmodSync(dir, 0o700);
  }
}

/** bwrap started by a non-root uid needs its own user namespace (implied by bwrap, stated for the reader). */
function userNamespaceArgs(runAs: readonly string[]): string[] {
  return runAs.length > 0 ? ["--unshare-user"] : [];
}

function setUpCgroups(log: Logger | undefined): CgroupSupport | null {
  const support = detectCgroups();
  if (support) {
    removeStaleRunCgroups(support);
    log?.info("agent runs get their own cgroup", { cgroup: `v${support.version}` });
  } else {
    log?.warn(
      "no cgroup for agent runs: the process cap is RLIMIT_NPROC only, which the kernel does not enforce for root",
    );
  }
  return support;
}

/**
 * Wraps one run for a sandbox status: [`/bin/sh` entering the run's cgroup and applying the ulimit limits] +
 * (bwrap … -- | setpriv --pdeathsig) + [prlimit, only where the shell cannot set the limits] + the CLI's argv.
 */
export function sandboxWrapper(status: SandboxStatus): (run: WrapInput) => PreparedRun {
  const limits = limitArgs(status.limits);
  return function wrapInSandbox(run) {
    const cgroup = status.cgroups ? createRunCgroup(status.cgroups, runCgroupName(randomUUID()), status.limits) : null;
    const inner = [...limits, ...run.argv];
    // setpriv drops to the tenant's uid after the shell entered the cgroup (root's job) and before bwrap, so
    // neither bwrap nor anything inside ever holds uid 0 of the host.
    const runAs = runAsArgs(status.runUser, run.uid);
    // bwrap's --die-with-parent ends a run when the server dies; unsandboxed, setpriv does the same, so a
    // killed server never leaves a run going beside the one its restart starts.
    const sandboxed =
      status.mode === "bwrap" && status.bwrapPath
        ? [
            ...runAs,
            status.bwrapPath,
            ...bwrapArgs({
              workspace: run.workspace,
              tenantConfigDir: run.tenantConfigDir,
              // The platform login is root's 0600 file, unreadable to the tenant's uid: its copy in the tenant's
              // CLI directory (chowned to the tenant) is what such a run reads.
              platformCredentials: runAs.length > 0 ? null : run.platformCredentials,
              cliFiles: run.command.ownFiles,
              tmpMb: status.limits.tmpMb,
            }),
            ...userNamespaceArgs(runAs),
            "--",
            ...inner,
          ]
        : [...(runAs.length > 0 ? runAs : SETPRIV ? [SETPRIV, "--pdeathsig", "KILL", "--"] : []), ...inner];
    return {
      argv: [...(runShellPrefix(cgroup?.procsFiles ?? [], status.limits) ?? []), ...sandboxed],
      memoryLimited:
        status.limits.memoryMb !== null &&
        ((hasLimits(status.limits) && status.limits.addressSpaceMb !== null) ||
          (cgroup !== null && hasMemoryCgroup(status.cgroups))),
      limitHit: () => cgroup?.limitHit() ?? null,
      dispose: () => cgroup?.dispose(),
    };
  };
}

/** The sandbox's fields for GET /health: `sandbox` ("bwrap" | "off") and `sandbox_warning` when off (not degraded). */
export function sandboxHealth(status: SandboxStatus): HealthPart {
  return {
    fields: {
      sandbox: status.mode,
      ...(status.warning ? { sandbox_warning: status.warning } : {}),
      ...(status.runUser.kind === "server-uid" ? { run_user_warning: status.runUser.warning } : {}),
    },
    degraded: false,
  };
}

/** System directories a program needs, read-only; on merged-/usr systems the others are symlinks into /usr. */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] as const;

/**
 * The files of /etc that programs need (TLS roots, name resolution, users, the dynamic linker, alternatives
 * links, Python's config) — and nothing else of the host's /etc.
 */
export const ETC_FILES = [
  "ssl",
  "ca-certificates",
  "ca-certificates.conf",
  "pki",
  "resolv.conf",
  "hosts",
  "host.conf",
  "gai.conf",
  "nsswitch.conf",
  "passwd",
  "group",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "alternatives",
  "localtime",
  "mime.types",
  "protocols",
  "services",
  "os-release",
  "python3",
] as const;

/** What one sandboxed run may see besides the system's read-only files. */
export interface BwrapMounts {
  /** The tenant's workspace: read-write at its real path, and the working directory. */
  workspace: string;
  /** The tenant's CLI directory (HOME, CLAUDE_CONFIG_DIR, sessions): read-write. */
  tenantConfigDir: string;
  /** The platform's CLI login file, bound read-only over the tenant's copy (null = none). */
  platformCredentials: string | null;
  /** The CLI's own files (npm package directory or the executable), read-only. */
  cliFiles: string;
  /** Size of the private /tmp (tmpfs) in MiB; absent = the kernel's default (half of RAM). */
  tmpMb?: number;
  /** Extra read-only paths (e.g. an interpreter outside /usr). */
  readOnly?: string[];
}

/** Describes how a host path appears: a directory or file to bind, a symlink to recreate, or nothing. */
type HostEntry = { kind: "bind" } | { kind: "symlink"; target: string } | { kind: "missing" };

function hostEntry(path: string): HostEntry {
  try {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return { kind: "symlink", target: readlinkSync(path) };
    return { kind: "bind" };
  } catch {
    return { kind: "missing" };
  }
}

/**
 * The bubblewrap arguments (everything between `bwrap` and `--`) for one run: a fresh root with the system
 * directories and selected /etc files read-only, the CLI's files read-only, the tenant's workspace and CLI
 * directory read-write, a private /tmp, a new /proc (own PID namespace) and a minimal /dev; own PID, IPC and
 * UTS namespaces, a new session, killed with its parent, no capabilities (even as root); the root read-only. The network stays shared (the model API, /mcp).
 * The environment is not on this command line: bwrap is started with exactly the run's environment.
 */
export function bwrapArgs(mounts: BwrapMounts): string[] {
  const args: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    const entry = hostEntry(dir);
    if (entry.kind === "symlink") args.push("--symlink", entry.target, dir);
    else if (entry.kind === "bind") args.push("--ro-bind", dir, dir);
  }
  for (const name of ETC_FILES) {
    const path = join("/etc", name);
    if (existsSync(path)) args.push("--ro-bind", path, path);
  }
  // A sized /tmp: its pages are RAM (and count against the run's memory cgroup), so an unsized one lets a run fill half the host's memory.
  if (mounts.tmpMb !== undefined) args.push("--size", String(mounts.tmpMb * 1024 * 1024));
  // /proc/sys read-only: a write to kernel.core_pattern (`|/workspace/x`) would make the host kernel run a
  // workspace script as root on the next crash dump.
  args.push("--tmpfs", "/tmp", "--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev");
  args.push("--ro-bind", mounts.cliFiles, mounts.cliFiles);
  for (const path of mounts.readOnly ?? []) args.push("--ro-bind", path, path);
  args.push("--bind", mounts.tenantConfigDir, mounts.tenantConfigDir);
  if (mounts.platformCredentials) {
    args.push("--ro-bind", mounts.platformCredentials, join(mounts.tenantConfigDir, ".credentials.json"));
  }
  args.push("--bind", mounts.workspace, mounts.workspace);
  // The fresh root itself becomes read-only: a write outside the workspace, its CLI directory and /tmp fails loudly
  // (EROFS) instead of landing in a throw-away directory.
  args.push("--remount-ro", "/");
  args.push(
    "--chdir",
    mounts.workspace,
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    "agent",
    "--die-with-parent",
    "--new-session",
    // Root inside keeps every capability otherwise: mknod of the host's disk, network configuration, modules.
    "--cap-drop",
    "ALL",
  );
  return args;
}
