import { existsSync, readFileSync } from "node:fs";
import type { AppContext } from "../context.ts";
import { getCredentials } from "../credentials/index.ts";
import { resolveInWorkspace } from "./paths.ts";
import { requireTenant } from "./store.ts";

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

function parseValue(rest: string): string {
  const quote = rest[0];
  if (quote === '"' || quote === "'") {
    const close = rest.indexOf(quote, 1);
    let inner = close > 0 ? rest.slice(1, close) : rest.slice(1);
    if (quote === '"') {
      // Find the real closing quote, skipping escaped ones.
      const m = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
      inner = m?.[1] ?? rest.slice(1);
      inner = inner.replace(/\\([nt"\\])/g, (_, c: string) => ({ n: "\n", t: "\t", '"': '"', "\\": "\\" })[c] ?? c);
    }
    return inner;
  }
  // Unquoted: a " #" starts a comment.
  return rest.replace(/\s+#.*$/, "").trim();
}

/** The `KEY=value` pairs of the tenant's workspace `.env` ({} when there is none). */
export function readWorkspaceEnv(ctx: Pick<AppContext, "config">, tenantId: string): Record<string, string> {
  const path = resolveInWorkspace(ctx.config, tenantId, ".env");
  return existsSync(path) ? parseEnvFile(readFileSync(path, "utf8")) : {};
}

/**
 * The tenant's own environment for its agent and tools: the workspace `.env` merged with the
 * tenant's decrypted vault credentials. **The vault wins** when both set the same key: the
 * vault is what the operator manages through the admin API, the file is a local override
 * for keys the vault does not have. Never contains platform secrets.
 */
export async function tenantEnvironment(ctx: AppContext, tenantId: string): Promise<Record<string, string>> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const fromFile = readWorkspaceEnv(ctx, tenant.id);
  const fromVault = await getCredentials(ctx, tenant.id);
  return { ...fromFile, ...fromVault };
}
