import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";

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
