import { existsSync, lstatSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Config } from "../config.ts";
import { ValidationError } from "../errors.ts";
import { assertTenantId } from "./ids.ts";

type PathConfig = Pick<Config, "TENANTS_DIR">;

/** `$TENANTS_DIR/<id>`; throws ValidationError unless `tenantId` is a UUID (so no other id reaches the disk). */
export function workspacePath(config: PathConfig, tenantId: string): string {
  assertTenantId(tenantId);
  return join(resolve(config.TENANTS_DIR), tenantId.toLowerCase());
}

/**
 * Resolves `relativePath` inside the tenant's workspace and checks the result stays inside it,
 * lexically and through symlinks of the part that already exists. Traversal ("../x", an absolute
 * path elsewhere, a symlink pointing out) → ValidationError `path_outside_workspace`.
 */
export function resolveInWorkspace(config: PathConfig, tenantId: string, relativePath: string): string {
  const base = workspacePath(config, tenantId);
  if (typeof relativePath !== "string" || relativePath.includes("\0")) throw outside(String(relativePath));
  const target = resolve(base, relativePath);
  if (!isInside(base, target)) throw outside(relativePath);
  if (existsSync(base)) {
    const realBase = realpathSync(base);
    const realTarget = realpathOfExistingPart(target);
    if (realTarget === null || !isInside(realBase, realTarget)) throw outside(relativePath);
  }
  return target;
}

function isInside(base: string, target: string): boolean {
  const rel = relative(base, target);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * The real path of `path`, resolving symlinks in its longest existing prefix. A dangling symlink
 * cannot be resolved and yields null (refused: writing through it could land anywhere).
 */
function realpathOfExistingPart(path: string): string | null {
  let existing = path;
  const rest: string[] = [];
  while (!entryExists(existing)) {
    const parent = dirname(existing);
    if (parent === existing) return path;
    rest.unshift(existing.slice(parent.length + 1));
    existing = parent;
  }
  try {
    return join(realpathSync(existing), ...rest);
  } catch {
    return null; // dangling symlink: refused by the caller
  }
}

/** True when something (even a dangling symlink) is at `path`. */
function entryExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false; // ENOENT and the like: nothing there
  }
}

function outside(shown: string): ValidationError {
  return new ValidationError(
    `Path ${JSON.stringify(shown.slice(0, 200))} leaves the tenant's workspace.`,
    "path_outside_workspace",
  );
}
