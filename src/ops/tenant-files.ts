import { createHash } from "node:crypto";
import { createReadStream, existsSync, lstatSync, renameSync } from "node:fs";
import { cp, mkdir, open, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { decideRunUser, prepareRunOwnership } from "../agent/index.ts";
import type { Config } from "../config.ts";
import type { AppContext } from "../context.ts";
import { AppError, ValidationError } from "../errors.ts";
import type { Tenant } from "../tenants/index.ts";
import { tenantConfigDirPath, tenantUid, workspacePath } from "../tenants/index.ts";

/** What travels on a move: the workspace, and the tenant's CLI directory (its sessions, so resume continues). */
export const TENANT_FILE_PARTS = ["workspace", "config"] as const;
export type TenantFilePart = (typeof TENANT_FILE_PARTS)[number];

/** The largest tar one part may be (a workspace is bounded by TENANT_DISK_MB; this bounds a hostile upload). */
export const MOVE_MAX_BYTES = 8 * 1024 * 1024 * 1024;

const TAR = ["/usr/bin/tar", "/bin/tar"].find((p) => existsSync(p)) ?? "tar";

/** Where a part lives on this instance. */
export function partDir(
  config: Pick<Config, "TENANTS_DIR" | "CLAUDE_CONFIG_DIR">,
  tenantId: string,
  part: TenantFilePart,
) {
  return part === "workspace"
    ? workspacePath(config, tenantId)
    : tenantConfigDirPath(config.CLAUDE_CONFIG_DIR, tenantId);
}

/** The staging folder of moves on this instance (inside DATA_DIR). */
function stagingPath(config: Pick<Config, "DATA_DIR">, tenantId: string, part: TenantFilePart): string {
  return join(config.DATA_DIR, "moves", `${tenantId}-${part}`);
}

/** A packed part: the tar file, its SHA-256 and size. */
export interface PackedPart {
  path: string;
  sha256: string;
  bytes: number;
}

/**
 * Packs a part into a tar file under DATA_DIR/moves (symlinks stored as links, never followed; numeric
 * owners); null when the folder does not exist (a tenant that never ran has no CLI directory).
 */
export async function packPart(ctx: AppContext, tenantId: string, part: TenantFilePart): Promise<PackedPart | null> {
  const dir = partDir(ctx.config, tenantId, part);
  if (!existsSync(dir)) return null;
  const path = `${stagingPath(ctx.config, tenantId, part)}.out.tar`;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await runTar(["--numeric-owner", "-C", dir, "-cf", path, "."]);
  const { size } = await stat(path);
  if (size > MOVE_MAX_BYTES) {
    await rm(path, { force: true });
    throw new AppError(
      "move_too_large",
      `The tenant's ${part} is ${size} bytes packed; at most ${MOVE_MAX_BYTES} move.`,
      413,
    );
  }
  return { path, sha256: await sha256Of(path), bytes: size };
}

/** The stream of a packed part, for the upload. */
export function packedStream(packed: PackedPart): ReadableStream<Uint8Array> {
  return Bun.file(packed.path).stream();
}

/**
 * Receives a part on the target: the tar is written to DATA_DIR/moves (at most MOVE_MAX_BYTES), its
 * SHA-256 checked, unpacked into a fresh folder (tar refuses absolute and `..` names and never extracts
 * through a symlink it made), then put in place of any earlier copy (a rerun replaces a half-done one)
 * and given to the tenant's uid. The CLI keeps sessions by the workspace path: a different TENANTS_DIR on
 * the source (`sourceWorkspace`) is renamed so that resume finds them.
 */
export async function receivePart(
  ctx: AppContext,
  tenant: Tenant,
  part: TenantFilePart,
  body: ReadableStream<Uint8Array>,
  expectedSha256: string,
  sourceWorkspace: string | null,
): Promise<{ bytes: number }> {
  if (!/^[0-9a-f]{64}$/.test(expectedSha256)) throw new ValidationError("x-content-sha256: must be 64 hex digits");
  const staging = stagingPath(ctx.config, tenant.id, part);
  const tarPath = `${staging}.in.tar`;
  const unpacked = `${staging}.in`;
  await rm(unpacked, { recursive: true, force: true });
  await mkdir(unpacked, { recursive: true, mode: 0o700 });
  const bytes = await writeBounded(body, tarPath);
  const actual = await sha256Of(tarPath);
  if (actual !== expectedSha256) {
    await rm(tarPath, { force: true });
    throw new AppError("checksum_mismatch", `The ${part} arrived with SHA-256 ${actual}, not ${expectedSha256}.`, 422);
  }
  await runTar(["--numeric-owner", "--no-overwrite-dir", "-C", unpacked, "-xf", tarPath]);
  await rm(tarPath, { force: true });
  const target = partDir(ctx.config, tenant.id, part);
  if (part === "config" && sourceWorkspace)
    renameSessionFolder(unpacked, sourceWorkspace, workspacePath(ctx.config, tenant.id));
  await rm(target, { recursive: true, force: true });
  await mkdir(dirname(target), { recursive: true });
  await moveInto(unpacked, target);
  // tenants.uid is global, so the target gives the files to the same uid the source ran them as.
  if (process.getuid?.() === 0)
    await prepareRunOwnership(decideRunUser(), await tenantUid(ctx.db, tenant.id), [target]);
  return { bytes };
}

/** Deletes this instance's copy of the tenant's files (after ownership moved away) and any staging left. */
export async function removeLocalCopy(ctx: AppContext, tenantId: string): Promise<boolean> {
  let removed = false;
  for (const part of TENANT_FILE_PARTS) {
    const dir = partDir(ctx.config, tenantId, part);
    if (existsSync(dir)) removed = true;
    await rm(dir, { recursive: true, force: true });
    const staging = stagingPath(ctx.config, tenantId, part);
    for (const path of [`${staging}.in`, `${staging}.in.tar`, `${staging}.out.tar`])
      await rm(path, { recursive: true, force: true });
  }
  return removed;
}

/** Whether this instance holds a copy of the tenant's workspace. */
export function hasLocalCopy(config: Pick<Config, "TENANTS_DIR" | "CLAUDE_CONFIG_DIR">, tenantId: string): boolean {
  return existsSync(partDir(config, tenantId, "workspace"));
}

/** The CLI's folder name for a working directory (`projects/<slug>`): every character but letters and digits becomes `-`. */
export function cliProjectSlug(cwd: string): string {
  return cwd.replace(/[^A-Za-z0-9]/g, "-");
}

function renameSessionFolder(configDir: string, from: string, to: string): void {
  const projects = join(configDir, "projects");
  const source = join(projects, cliProjectSlug(from));
  const target = join(projects, cliProjectSlug(to));
  // The agent wrote this folder: never rename through a symlink it left (it could point anywhere on this host).
  if (source === target || !isRealDir(projects) || !isRealDir(source) || existsSync(target)) return;
  renameSync(source, target);
}

function isRealDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

async function moveInto(from: string, to: string): Promise<void> {
  try {
    renameSync(from, to);
  } catch (err) {
    if (!(err instanceof Error && "code" in err && err.code === "EXDEV")) throw err;
    await cp(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    await rm(from, { recursive: true, force: true });
  }
}

async function writeBounded(body: ReadableStream<Uint8Array>, path: string): Promise<number> {
  const file = await open(path, "w", 0o600);
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.byteLength;
      if (bytes > MOVE_MAX_BYTES)
        throw new AppError("payload_too_large", `A moved part is limited to ${MOVE_MAX_BYTES} bytes.`, 413);
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
  return bytes;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function runTar(args: string[]): Promise<void> {
  const child = Bun.spawn([TAR, ...args], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    env: { PATH: "/usr/bin:/bin" },
  });
  const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0)
    throw new Error(
      `tar ${args.includes("-cf") ? "pack" : "unpack"} failed (exit ${exitCode}): ${stderr.trim().split("\n")[0] ?? ""}`,
    );
}
