import { createHash } from "node:crypto";
import { lstatSync } from "node:fs";
import { join } from "node:path";

/** What a warm process was started with, besides the request: the server's own settings. */
export interface WarmFingerprintSettings {
  extraArgs: readonly string[];
  sandbox: string;
  command: string;
}

/**
 * A digest of everything a warm process took in at start and cannot change later: the tenant's environment (vault
 * credentials merged with the workspace .env), time zone, uid and workspace, its CLAUDE.md (by lstat: an edit shows
 * in inode, size or mtime), AGENT_ARGS, the sandbox mode and the CLI. Cheap enough for every turn (one lstat).
 */
export function warmFingerprint(
  request: { tenantEnv: Record<string, string>; timezone: string; uid: number; workspace: string },
  settings: WarmFingerprintSettings,
): string {
  const env = Object.entries(request.tenantEnv).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256")
    .update(
      JSON.stringify([
        env,
        request.timezone,
        request.uid,
        request.workspace,
        claudeMdStamp(request.workspace),
        settings.extraArgs,
        settings.sandbox,
        settings.command,
      ]),
    )
    .digest("hex");
}

function claudeMdStamp(workspace: string): string {
  try {
    const info = lstatSync(join(workspace, "CLAUDE.md"));
    // Not ctime: the chown before every run (tenant uids) touches it without changing the file.
    return `${info.ino}:${info.size}:${info.mtimeMs}`;
  } catch {
    return "none";
  }
}
