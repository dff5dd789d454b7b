import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config.ts";
import { AppError, ValidationError } from "../errors.ts";
import { assertTenantId } from "./types.ts";

type PathConfig = Pick<Config, "TENANTS_DIR">;

/** `<CLAUDE_CONFIG_DIR>/tenants/<tenantId>` (the id checked, so it names one folder); created by prepareTenantConfigDir, removed at purge. */
export function tenantConfigDirPath(platformConfigDir: string, tenantId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(tenantId)) {
    throw new Error(`invalid tenant id for an agent directory: ${JSON.stringify(tenantId)}`);
  }
  return join(platformConfigDir, "tenants", tenantId);
}

/**
 * `$TENANTS_DIR/<id>`; throws ValidationError unless `tenantId` is a UUID (so no other id reaches the disk).
 * Files inside it are only ever touched through workspace-fs.ts (the agent may swap any of them).
 */
export function workspacePath(config: PathConfig, tenantId: string): string {
  assertTenantId(tenantId);
  return join(resolve(config.TENANTS_DIR), tenantId.toLowerCase());
}

/**
 * Every server access to a file in a tenant's folder goes through here. The folder is hostile ground:
 * its agent may swap any file or folder for a symlink, a FIFO or a hard link between our check and our
 * use. So paths are walked from the workspace one component at a time, each opened relative to the
 * folder before it (`/proc/self/fd/<dirfd>/<name>`, Linux's openat) with O_NOFOLLOW: no symlink is
 * ever followed, in a folder or at the file. Files are opened O_NONBLOCK (a FIFO answers at once and
 * is then refused by fstat), must be regular with a single link, and are read up to a cap. Everything
 * here is synchronous: each call is a few non-blocking syscalls on small files (the largest write is
 * an inbox file, at most MAX_MEDIA_BYTES, into the page cache). Linux only (/proc), like the sandbox.
 */

/** Largest workspace `.env` the server reads. */
export const MAX_ENV_FILE_BYTES = 64 * 1024;
/** Largest `CLAUDE.md` the server reads (and so re-renders). */
export const MAX_CLAUDE_MD_BYTES = 256 * 1024;
/** Largest tool script the server reads (health-check discovery, validation). */
export const MAX_SCRIPT_BYTES = 1024 * 1024;

type WorkspaceConfig = Pick<Config, "TENANTS_DIR">;

/** A file or folder of the tenant's workspace is not what the server may touch (a symlink, a FIFO, too large…). */
export class UnsafeWorkspaceFileError extends AppError {
  override name = "UnsafeWorkspaceFileError";
  constructor(
    readonly tenantId: string,
    readonly relativePath: string,
    readonly problem: string,
  ) {
    super(
      "unsafe_workspace_file",
      `The tenant's ${relativePath} ${problem}; the server will not use it (make it a regular file or remove it).`,
      409,
    );
  }
}

const { O_RDONLY, O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = constants;
const OPEN_DIR = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
const OPEN_READ = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
const OPEN_APPEND = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
const OPEN_NEW = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;

/** The entry `name` of the open folder `dirFd`, as a path the kernel resolves like openat(2). */
function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

/**
 * Reads a regular file of the workspace as UTF-8; null when it, a folder on its way or the workspace
 * is missing. A symlink (file or folder), a FIFO, a device, a hard link or a file over `maxBytes` →
 * UnsafeWorkspaceFileError.
 */
export function readWorkspaceFile(
  config: WorkspaceConfig,
  tenantId: string,
  relativePath: string,
  maxBytes: number,
): string | null {
  const bytes = readWorkspaceBytes(config, tenantId, relativePath, maxBytes);
  return bytes === null ? null : Buffer.from(bytes).toString("utf8");
}

/**
 * Reads a regular file of the workspace as bytes (files the agent asks to send); same rules as
 * readWorkspaceFile: null when missing, a link, FIFO, device, hard link or a file over `maxBytes` →
 * UnsafeWorkspaceFileError.
 */
export function readWorkspaceBytes(
  config: WorkspaceConfig,
  tenantId: string,
  relativePath: string,
  maxBytes: number,
): Uint8Array | null {
  return inParent(config, tenantId, relativePath, false, (dirFd, name) => {
    const fd = openFile(tenantId, relativePath, at(dirFd, name), OPEN_READ);
    if (fd === null) return null;
    try {
      const info = checkRegular(tenantId, relativePath, fd, at(dirFd, name));
      if (info.size > maxBytes) throw tooLarge(tenantId, relativePath, info.size, maxBytes);
      return readCappedBytes(tenantId, relativePath, fd, maxBytes);
    } finally {
      closeSync(fd);
    }
  });
}

/** lstat of an entry of the workspace (the entry itself is not followed, nor any folder on its way); null when missing. */
export function statWorkspaceEntry(config: WorkspaceConfig, tenantId: string, relativePath: string): Stats | null {
  return inParent(
    config,
    tenantId,
    relativePath,
    false,
    (dirFd, name) => lstatSync(at(dirFd, name), { throwIfNoEntry: false }) ?? null,
  );
}

/** The names in a folder of the workspace; null when it is missing; a symlink or non-folder → UnsafeWorkspaceFileError. */
export function listWorkspaceDir(config: WorkspaceConfig, tenantId: string, relativePath: string): string[] | null {
  return inParent(config, tenantId, relativePath, false, (dirFd, name) => {
    const fd = openDir(tenantId, relativePath, dirFd, name, false);
    if (fd === null) return null;
    try {
      return readdirSync(`/proc/self/fd/${fd}`);
    } finally {
      closeSync(fd);
    }
  });
}

/** Creates a folder of the workspace (and the folders on its way) unless it is there; true when it was created. */
export function ensureWorkspaceDir(
  config: WorkspaceConfig,
  tenantId: string,
  relativePath: string,
  mode = 0o750,
): boolean {
  return inParent(config, tenantId, relativePath, true, (dirFd, name, owner) => {
    const existed = lstatSync(at(dirFd, name), { throwIfNoEntry: false }) !== undefined;
    const fd = openDir(tenantId, relativePath, dirFd, name, true, mode, owner);
    if (fd !== null) closeSync(fd);
    return !existed;
  });
}

/**
 * Appends to a regular file of the workspace, creating it (mode, default 0640) and its folders when
 * missing. `text` may depend on whether the file is new (a heading). Never writes through a symlink,
 * into a FIFO or into a hard link; returns whether the file was created.
 */
export function appendWorkspaceFile(
  config: WorkspaceConfig,
  tenantId: string,
  relativePath: string,
  text: string | ((isNew: boolean) => string),
  mode = 0o640,
): boolean {
  return inParent(config, tenantId, relativePath, true, (dirFd, name, owner) => {
    let isNew = false;
    let fd = openFile(tenantId, relativePath, at(dirFd, name), OPEN_APPEND);
    if (fd === null) {
      fd = openFile(tenantId, relativePath, at(dirFd, name), OPEN_NEW, mode, true);
      isNew = fd !== null;
      if (fd !== null) adopt(fd, owner);
      fd ??= openFile(tenantId, relativePath, at(dirFd, name), OPEN_APPEND); // created by someone else meanwhile
      if (fd === null) throw new UnsafeWorkspaceFileError(tenantId, relativePath, "keeps disappearing");
    }
    try {
      checkRegular(tenantId, relativePath, fd, at(dirFd, name));
      writeAll(fd, typeof text === "string" ? text : text(isNew));
      return isNew;
    } finally {
      closeSync(fd);
    }
  });
}

/**
 * Writes a whole file of the workspace: a new temporary file next to it, then a rename over the old
 * entry (whatever it was: a symlink or FIFO there is replaced, never written through), so a reader
 * never sees half a file. The folders on its way are created when missing. Mode default 0644.
 */
export function writeWorkspaceFile(
  config: WorkspaceConfig,
  tenantId: string,
  relativePath: string,
  content: string | Uint8Array,
  mode = 0o644,
): void {
  inParent(config, tenantId, relativePath, true, (dirFd, name, owner) => {
    const temporary = `.${name}.tmp-${randomBytes(6).toString("hex")}`;
    const fd = openFile(tenantId, relativePath, at(dirFd, temporary), OPEN_NEW, mode, true);
    if (fd === null) throw new UnsafeWorkspaceFileError(tenantId, relativePath, "could not be created");
    try {
      try {
        adopt(fd, owner);
        fchmodSync(fd, mode); // exact mode whatever the umask (execution/ scripts must stay executable)
        writeAll(fd, content);
      } finally {
        closeSync(fd);
      }
      renameSync(at(dirFd, temporary), at(dirFd, name));
    } catch (err) {
      try {
        unlinkSync(at(dirFd, temporary));
      } catch {
        // already renamed or never written: nothing stray is left either way
      }
      throw err;
    }
  });
}

/**
 * Opens the workspace and each folder on the way to `relativePath` (all created when `create`), never
 * following a symlink, then calls `use` with the last folder's fd and the entry's name. A missing
 * workspace or folder (without `create`) → null.
 */
function inParent<T>(
  config: WorkspaceConfig,
  tenantId: string,
  relativePath: string,
  create: false,
  use: (dirFd: number, name: string, owner: Owner | null) => T,
): T | null;
function inParent<T>(
  config: WorkspaceConfig,
  tenantId: string,
  relativePath: string,
  create: true,
  use: (dirFd: number, name: string, owner: Owner | null) => T,
): T;
function inParent<T>(
  config: WorkspaceConfig,
  tenantId: string,
  relativePath: string,
  create: boolean,
  use: (dirFd: number, name: string, owner: Owner | null) => T,
): T | null {
  const parts = splitRelative(relativePath);
  const name = parts.pop()!;
  const opened: number[] = [];
  try {
    const root = workspacePath(config, tenantId);
    // TENANTS_DIR is the platform's (no agent can swap it), so a missing workspace is simply created.
    if (create) mkdirSync(root, { recursive: true, mode: 0o750 });
    const base = openOrNull(root, OPEN_DIR);
    if (base === null && create)
      throw new AppError("workspace_missing", `The tenant's workspace folder ${root} could not be opened.`, 409);
    if (base === null) return null;
    opened.push(base);
    const owner = create ? ownerToGive(base) : null;
    for (let i = 0; i < parts.length; i++) {
      const fd = openDir(
        tenantId,
        parts.slice(0, i + 1).join("/"),
        opened[opened.length - 1]!,
        parts[i]!,
        create,
        0o750,
        owner,
      );
      if (fd === null && create)
        throw new UnsafeWorkspaceFileError(tenantId, `${parts.slice(0, i + 1).join("/")}/`, "could not be created");
      if (fd === null) return null;
      opened.push(fd);
    }
    return use(opened[opened.length - 1]!, name, owner);
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

/** Opens the folder `name` in `dirFd` without following a symlink; created (mode) when missing and `create`. */
function openDir(
  tenantId: string,
  shown: string,
  dirFd: number,
  name: string,
  create: boolean,
  mode = 0o750,
  owner: Owner | null = null,
): number | null {
  const path = at(dirFd, name);
  let made = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, OPEN_DIR);
      if (made) adopt(fd, owner);
      return fd;
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT" && create && attempt === 0) {
        try {
          mkdirSync(path, { mode }); // mkdir never follows a symlink at its last component
          made = true;
        } catch (mkdirErr) {
          if (errnoCode(mkdirErr) !== "EEXIST") throw mkdirErr;
        }
        continue;
      }
      if (code === "ENOENT") return null;
      if (code === "ELOOP" || code === "ENOTDIR")
        throw new UnsafeWorkspaceFileError(tenantId, `${shown}/`, `is ${describe(path)}, not a folder`);
      throw err;
    }
  }
  return null;
}

/** The uid and gid new entries of a workspace are given: its root folder's, once a run has been given the folder. */
interface Owner {
  uid: number;
  gid: number;
}

/**
 * Whom the server's new files and folders in this workspace should belong to: the workspace root's owner when it
 * is not the server itself (runs switch uid and the folder was given to the tenant's uid). So what the server writes
 * between two runs already belongs to the tenant and a warm turn needs no recursive chown. Null: keep the server's.
 */
function ownerToGive(rootFd: number): Owner | null {
  const self = process.getuid?.();
  if (self !== 0) return null; // only root can give files away (and only then do runs switch uid)
  const root = fstatSync(rootFd);
  return root.uid === self ? null : { uid: root.uid, gid: root.gid };
}

/** Gives an entry the server just created (still its own: never one the tenant made or swapped in) to `owner`. */
function adopt(fd: number, owner: Owner | null): void {
  if (owner === null || fstatSync(fd).uid !== process.getuid?.()) return;
  fchownSync(fd, owner.uid, owner.gid);
}

/** Opens a file entry; null when missing (or, with `exclusive`, when it already exists). */
function openFile(
  tenantId: string,
  shown: string,
  path: string,
  flags: number,
  mode = 0o600,
  exclusive = false,
): number | null {
  try {
    return openSync(path, flags, mode);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" && !exclusive) return null;
    if (code === "EEXIST" && exclusive) return null;
    // ENXIO: a FIFO nobody reads, opened for writing without blocking.
    if (code === "ELOOP" || code === "ENXIO" || code === "EISDIR")
      throw new UnsafeWorkspaceFileError(tenantId, shown, `is ${describe(path)}`);
    throw err;
  }
}

function openOrNull(path: string, flags: number): number | null {
  try {
    return openSync(path, flags);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return null;
    throw err;
  }
}

/**
 * fstat of an open file: a regular file with one link, still the one named `path`, or
 * UnsafeWorkspaceFileError. A hard link would let the folder's agent reach a file outside it (another
 * tenant's .env or timeline); a link made and removed around our open is caught by the second look.
 */
function checkRegular(tenantId: string, shown: string, fd: number, path: string): Stats {
  const info = fstatSync(fd);
  if (!info.isFile()) throw new UnsafeWorkspaceFileError(tenantId, shown, `is ${kindOf(info)}, not a regular file`);
  if (info.nlink !== 1) throw new UnsafeWorkspaceFileError(tenantId, shown, `is a hard link (${info.nlink} names)`);
  const named = lstatSync(path, { throwIfNoEntry: false });
  if (named?.ino !== info.ino || named.dev !== info.dev || fstatSync(fd).nlink !== 1) {
    throw new UnsafeWorkspaceFileError(tenantId, shown, "changed while it was opened");
  }
  return info;
}

function readCappedBytes(tenantId: string, shown: string, fd: number, maxBytes: number): Uint8Array {
  const buffer = Buffer.alloc(maxBytes + 1);
  let total = 0;
  while (total < buffer.length) {
    const n = readSync(fd, buffer, total, buffer.length - total, null);
    if (n === 0) break;
    total += n;
  }
  if (total > maxBytes) throw tooLarge(tenantId, shown, total, maxBytes);
  return buffer.subarray(0, total);
}

function writeAll(fd: number, content: string | Uint8Array): void {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  let offset = 0;
  while (offset < bytes.byteLength) offset += writeSync(fd, bytes, offset, bytes.byteLength - offset);
}

/** The relative path's components; anything that could leave the workspace → ValidationError `path_outside_workspace`. */
function splitRelative(relativePath: string): string[] {
  const parts = relativePath.split("/").filter((p) => p !== "" && p !== ".");
  if (relativePath.startsWith("/") || relativePath.includes("\0") || parts.length === 0 || parts.includes("..")) {
    throw new ValidationError(
      `Path ${JSON.stringify(relativePath.slice(0, 200))} leaves the tenant's workspace.`,
      "path_outside_workspace",
    );
  }
  return parts;
}

function tooLarge(tenantId: string, shown: string, size: number, maxBytes: number): UnsafeWorkspaceFileError {
  return new UnsafeWorkspaceFileError(
    tenantId,
    shown,
    `is too large (${size > maxBytes ? `over ${maxBytes}` : size} bytes; the limit is ${maxBytes})`,
  );
}

/** What is at `path`, in words (for the error), without following it. */
function describe(path: string): string {
  try {
    return kindOf(lstatSync(path));
  } catch {
    return "not usable";
  }
}

function kindOf(info: Stats): string {
  if (info.isSymbolicLink()) return "a symbolic link";
  if (info.isFIFO()) return "a FIFO";
  if (info.isDirectory()) return "a folder";
  if (info.isSocket()) return "a socket";
  if (info.isCharacterDevice() || info.isBlockDevice()) return "a device";
  return info.isFile() ? "a regular file" : "not a regular file";
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}
