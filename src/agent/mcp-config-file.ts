import { randomUUID } from "node:crypto";
import { closeSync, constants, fchownSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";

/** One run's `--mcp-config` file: where it is, and how to remove it when the run ends. */
export interface McpConfigFile {
  path: string;
  dispose(): void;
}

/**
 * Writes the MCP config (with the run's Bearer token) to a fresh file in the tenant's CLI directory, so the token
 * never appears in argv (which every local user can read in `ps`). The file is 0600, created exclusively without
 * following links, and owned like the directory, so a run under a per-tenant uid can read it and nobody else can.
 */
export function writeMcpConfigFile(tenantConfigDir: string, json: string): McpConfigFile {
  const path = join(tenantConfigDir, `mcp-${randomUUID()}.json`);
  const owner = statSync(tenantConfigDir);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    if (owner.uid !== process.getuid?.() || owner.gid !== process.getgid?.()) fchownSync(fd, owner.uid, owner.gid);
    writeSync(fd, json);
  } catch (error) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw error;
  }
  closeSync(fd);
  return { path, dispose: () => rmSync(path, { force: true }) };
}
