import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { TENANT_UID_BASE } from "../tenants/index.ts";
import { giveTreeInProcess } from "./give-tree.ts";

export { TENANT_UID_BASE };

/** The uid the start-up sandbox probe and the self-check run as: below every tenant's, never allocated. */
export const PROBE_UID = TENANT_UID_BASE - 1;

/** util-linux `setpriv` (switches uid, drops groups, sets the parent-death signal), or null when missing. */
export const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p)) ?? null;

/** coreutils `chown`: its -R walk opens each directory without following links (fts, FTS_PHYSICAL). */
const CHOWN = ["/usr/bin/chown", "/bin/chown"].find((p) => existsSync(p)) ?? null;

/** Who runs execute as: each tenant's own uid (the server is root) or the server's own uid (it is not). */
export type RunUser = { kind: "tenant-uid" } | { kind: "server-uid"; warning: string };

/**
 * Decides once at start whether runs can drop to the tenant's uid: only a root server with `setpriv` can.
 * Otherwise every run goes as the server's uid, and the returned warning says what that means.
 */
export function decideRunUser(log?: Logger): RunUser {
  const uid = process.getuid?.() ?? -1;
  if (uid === 0 && SETPRIV && CHOWN) {
    // The chown before each run would follow a hard link a tenant made to a root file outside its folder; the
    // kernel refuses such links when protected_hardlinks is on (inside bwrap they fail anyway: EXDEV).
    if (readSysctl("fs/protected_hardlinks") === "0")
      log?.warn(
        "fs.protected_hardlinks is off: without the sandbox a tenant could hard-link a file it does not own into its workspace; set sysctl fs.protected_hardlinks=1",
      );
    return { kind: "tenant-uid" };
  }
  const warning =
    uid === 0
      ? "util-linux setpriv or coreutils chown is missing: agent runs keep uid 0 (root) — install util-linux and coreutils"
      : `the server runs as uid ${uid}, not root: agent runs and tool checks cannot switch to a per-tenant uid, so they run as uid ${uid} and every tenant's agent can read what that uid can (other tenants' folders included, without the sandbox)`;
  log?.error("AGENT RUNS SHARE ONE UID", { reason: warning });
  return { kind: "server-uid", warning };
}

/**
 * The command prefix that starts the rest as `uid` (gid the same, no supplementary groups), killed when its
 * parent dies: `setpriv --reuid=N --regid=N --clear-groups --pdeathsig KILL --`. Empty when runs do not switch.
 */
export function runAsArgs(user: RunUser, uid: number): string[] {
  if (user.kind !== "tenant-uid" || !SETPRIV) return [];
  assertRunUid(uid);
  return [SETPRIV, `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--pdeathsig", "KILL", "--"];
}

/**
 * Gives `uid` the folders a run writes (workspace, its CLI directory): the whole tree is chowned without
 * following links (files the server wrote — CLAUDE.md, execution/, timeline, inbox — become the agent's),
 * then each top folder is made 0700 so no other tenant's uid can enter it. No-op unless runs switch uid.
 * Called before every run and tool check; the tenant's previous run is over, so nothing of it races the walk.
 */
export async function prepareRunOwnership(user: RunUser, uid: number, dirs: readonly string[]): Promise<void> {
  if (user.kind !== "tenant-uid" || !CHOWN) return;
  assertRunUid(uid);
  for (const dir of dirs) {
    const stat = lstatSync(dir);
    if (!stat.isDirectory()) throw new Error(`${dir} is not a directory (a symlink is refused)`);
  }
  if (giveTreeInProcess(uid, dirs)) {
    for (const dir of dirs) chmodSync(dir, 0o700);
    return;
  }
  const child = Bun.spawn([CHOWN, "-R", "-P", "--", `${uid}:${uid}`, ...dirs], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    env: { PATH: "/usr/bin:/bin" },
  });
  const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0)
    throw new Error(`chown of the run's folders failed (exit ${exitCode}): ${stderr.trim().split("\n")[0] ?? ""}`);
  for (const dir of dirs) chmodSync(dir, 0o700);
}

/**
 * Whether `dirs` are already the uid's private folders (real folders, owned by it, 0700): true after a run's
 * prepareRunOwnership, and it stays true since the server gives what it creates in a workspace to the folder's owner
 * (src/tenants/workspace-fs.ts). Always true unless runs switch uid.
 */
export function isGivenToRunUser(user: RunUser, uid: number, dirs: readonly string[]): boolean {
  if (user.kind !== "tenant-uid" || !CHOWN) return true;
  return dirs.every((dir) => {
    const stat = lstatSync(dir, { throwIfNoEntry: false });
    return stat?.isDirectory() === true && stat.uid === uid && stat.gid === uid && (stat.mode & 0o777) === 0o700;
  });
}

/**
 * Makes the server's own folders traversable but not listable (0711) so a tenant's uid reaches its workspace
 * and CLI directory inside them and nothing else. Missing folders are created so. No-op unless runs switch uid.
 */
export function makeTraversable(user: RunUser, dirs: readonly string[]): void {
  if (user.kind !== "tenant-uid") return;
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    chmodSync(dir, 0o711);
  }
}

/**
 * A passable folder exposes any entry whose name is known (`$DATA_DIR/proxystaff.db`): every entry directly in
 * `dir` but the `keep` ones (the next folder on the way) loses its group and other bits — an old 0644 database
 * becomes 0600 — and says so in the log. No-op unless runs switch uid.
 */
export function makeEntriesPrivate(user: RunUser, dir: string, keep: readonly string[], log?: Logger): void {
  if (user.kind !== "tenant-uid" || !existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (keep.includes(path)) continue;
    const stat = lstatSync(path);
    if (stat.isSymbolicLink() || (stat.mode & 0o077) === 0) continue;
    chmodSync(path, stat.mode & 0o7700);
    log?.warn("made private: tenant uids pass through its folder", {
      path,
      mode: (stat.mode & 0o7777).toString(8),
      now: (stat.mode & 0o7700).toString(8),
    });
  }
}

/**
 * The folders of `dirs` a tenant's uid cannot enter (tried as PROBE_UID with `cd`): a parent the operator made
 * 0700 (e.g. /var/lib/x) blocks every run. Empty when runs do not switch uid.
 */
export function unreachableFolders(user: RunUser, dirs: readonly string[]): string[] {
  const runAs = runAsArgs(user, PROBE_UID);
  if (runAs.length === 0) return [];
  return dirs.filter((dir) => {
    const probe = Bun.spawnSync([...runAs, "/bin/sh", "-c", 'cd "$1"', "sh", dir], {
      env: { PATH: "/usr/bin:/bin" },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    return probe.exitCode !== 0;
  });
}

/**
 * The server's folders a tenant's uid passes through to reach its workspace and CLI directory: TENANTS_DIR,
 * CLAUDE_CONFIG_DIR and its tenants/, and DATA_DIR with the folders below it on the way when either is inside it
 * (CLAUDE_CONFIG_DIR is by default).
 */
export function serverFoldersOnTheWay(
  config: Pick<Config, "DATA_DIR" | "TENANTS_DIR" | "CLAUDE_CONFIG_DIR">,
): string[] {
  const data = resolve(config.DATA_DIR);
  const claude = resolve(config.CLAUDE_CONFIG_DIR);
  const isBelowData = (path: string) => {
    const rel = relative(data, path);
    return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
  };
  const folders = new Set<string>();
  for (const target of [join(claude, "tenants"), resolve(config.TENANTS_DIR)]) {
    const chain = [target];
    for (let dir = target; isBelowData(dir); dir = dirname(dir)) chain.unshift(dirname(dir));
    for (const dir of chain) folders.add(dir);
  }
  folders.add(claude);
  return [...folders].sort();
}

function readSysctl(name: string): string | null {
  try {
    return readFileSync(`/proc/sys/${name}`, "utf8").trim();
  } catch {
    return null; // no /proc/sys (not Linux): nothing to say
  }
}

function assertRunUid(uid: number): void {
  if (!Number.isSafeInteger(uid) || uid < PROBE_UID || uid > 0xfffffffe)
    throw new Error(`refusing to run as uid ${uid}: tenant uids start at ${TENANT_UID_BASE}`);
}
