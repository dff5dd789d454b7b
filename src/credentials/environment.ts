import type { AppContext } from "../context.ts";
import type { Tenant } from "../tenants/index.ts";
import { MAX_ENV_FILE_BYTES, readWorkspaceFile } from "../tenants/index.ts";
import { openCredentials } from "./store.ts";

/**
 * Parses a `.env` text: `KEY=value` lines, optional `export ` prefix, `#` comments, single or
 * double quotes (double quotes understand \n, \t, \" and \\). Invalid lines are skipped.
 * The same rules as execution/env_loader.py, so the agent's tools and the platform agree.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    const [, key, rest] = match as unknown as [string, string, string];
    out[key] = parseValue(rest);
  }
  return out;
}

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", '"': '"', "\\": "\\" };

function parseValue(rest: string): string {
  if (rest.startsWith('"')) {
    // Up to the first unescaped closing quote; then the escapes are decoded.
    const inner = /^"((?:[^"\\]|\\.)*)"/.exec(rest)?.[1] ?? rest.slice(1);
    return inner.replace(/\\([nt"\\])/g, (_, c: string) => ESCAPES[c] ?? c);
  }
  if (rest.startsWith("'")) {
    const close = rest.indexOf("'", 1);
    return close > 0 ? rest.slice(1, close) : rest.slice(1); // single quotes are literal
  }
  return rest.replace(/\s+#.*$/, "").trim(); // unquoted: " #" starts a comment
}

/**
 * The `KEY=value` pairs of the tenant's workspace `.env` ({} when there is none). A `.env` that is a
 * symlink, a FIFO, a hard link, not a regular file or over MAX_ENV_FILE_BYTES → UnsafeWorkspaceFileError
 * (the run must not start with a partial or foreign environment).
 */
export function readWorkspaceEnv(ctx: Pick<AppContext, "config">, tenant: Pick<Tenant, "id">): Record<string, string> {
  const text = readWorkspaceFile(ctx.config, tenant.id, ".env", MAX_ENV_FILE_BYTES);
  return text === null ? {} : parseEnvFile(text);
}

/** Keys of tenantEnvironment() that are settings, not secrets (URLs an operator must be able to read). */
export const PLATFORM_TOOL_SETTINGS = ["SENDGRID_API_BASE"] as const;

/** The values of a tenant environment that are secrets (everything but PLATFORM_TOOL_SETTINGS), for redaction. */
export function tenantSecretValues(env: Record<string, string>): string[] {
  const settings: readonly string[] = PLATFORM_TOOL_SETTINGS;
  return Object.entries(env)
    .filter(([key]) => !settings.includes(key))
    .map(([, value]) => value);
}

/**
 * The tenant's own environment for its agent and tools, in three layers (later wins):
 * 1. the platform's non-secret tool settings (`SENDGRID_API_BASE`, so tools follow the server's
 *    configuration, e.g. a test's loopback fake);
 * 2. the workspace `.env` (local overrides);
 * 3. the tenant's decrypted vault credentials. **The vault wins** over the file: it is what the
 *    operator manages through the admin API; the file only fills keys the vault does not have.
 * Never contains platform secrets. A credential that cannot be decrypted → AppError
 * `credential_undecryptable` (the run must not start with a silently missing key).
 */
export async function tenantEnvironment(
  ctx: Pick<AppContext, "config" | "db">,
  tenant: Pick<Tenant, "id">,
): Promise<Record<string, string>> {
  const platform: Record<(typeof PLATFORM_TOOL_SETTINGS)[number], string> = {
    SENDGRID_API_BASE: ctx.config.SENDGRID_API_BASE,
  };
  const fromFile = readWorkspaceEnv(ctx, tenant);
  const fromVault = await openCredentials(ctx, tenant);
  return { ...platform, ...fromFile, ...fromVault };
}
