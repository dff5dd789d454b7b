import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

/** The file a `claude /login` (Pro/Max plan) leaves in the CLI's config directory. */
export const CREDENTIALS_FILE = ".credentials.json";

/** A tenant's own CLI directory and the platform login that reaches it. */
export interface TenantConfigDir {
  /** `<CLAUDE_CONFIG_DIR>/tenants/<tenantId>`: HOME and CLAUDE_CONFIG_DIR of the tenant's runs (sessions live here). */
  dir: string;
  /** The platform's `.credentials.json` when there is one (the sandbox binds it read-only over the tenant's copy). */
  platformCredentials: string | null;
}

/**
 * Creates the tenant's CLI directory under the platform's CLAUDE_CONFIG_DIR (on the volume, so `--resume`
 * survives a redeploy) and gives it the platform's CLI login: the `.credentials.json` is copied in before each
 * run (a refreshed login reaches every tenant; a run that changes its copy changes nothing else). Without a
 * login file, a stale copy is removed.
 */
export function prepareTenantConfigDir(platformConfigDir: string, tenantId: string): TenantConfigDir {
  const dir = tenantConfigDirPath(platformConfigDir, tenantId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const source = join(platformConfigDir, CREDENTIALS_FILE);
  const target = join(dir, CREDENTIALS_FILE);
  if (!existsSync(source)) {
    rmSync(target, { force: true });
    return { dir, platformCredentials: null };
  }
  // Anything but an identical regular file (a run may have replaced its copy, even by a symlink) is replaced.
  if (!isRegularFile(target) || !readFileSync(target).equals(readFileSync(source))) {
    rmSync(target, { force: true });
    copyFileSync(source, target);
    chmodSync(target, 0o600);
  }
  return { dir, platformCredentials: source };
}

/** `<CLAUDE_CONFIG_DIR>/tenants/<tenantId>` (the id checked, so it names one folder); created by prepareTenantConfigDir, removed at purge. */
export function tenantConfigDirPath(platformConfigDir: string, tenantId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(tenantId)) {
    throw new Error(`invalid tenant id for an agent directory: ${JSON.stringify(tenantId)}`);
  }
  return join(platformConfigDir, "tenants", tenantId);
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}
