import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { preparedPerDatabase, schema } from "../db/index.ts";
import { ValidationError } from "../errors.ts";
import type { Tenant } from "../tenants/index.ts";
import { requireTenant } from "../tenants/index.ts";
import { Vault } from "./vault.ts";

const { credentials } = schema;

/** A stored credential as operators see it: never the value. */
export interface CredentialSummary {
  key: string;
  /** "••••abcd" (last 4 characters at most; short values fully masked). */
  masked: string;
  updated_at: string;
}

type VaultContext = Pick<AppContext, "config" | "db" | "log" | "clock">;

/**
 * Encrypts and stores credentials for a tenant, merging with the ones it has (a key given again
 * is replaced). Every key and value is checked before anything is written (ValidationError
 * `invalid_credential` naming the key). Returns the names of all keys the tenant now has.
 */
export async function setCredentials(
  ctx: VaultContext,
  tenantId: string,
  record: Record<string, unknown>,
): Promise<string[]> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const entries = Object.entries(record).map(([key, value]) => [key, checkCredential(key, value)] as const);
  const vault = Vault.fromConfig(ctx.config);
  const now = isoAt(ctx.clock.now());
  for (const [key, value] of entries) {
    const sealed = vault.seal(tenant.id, key, value);
    await ctx.db
      .insert(credentials)
      .values({ tenant_id: tenant.id, key, ...sealed, created_at: now, updated_at: now })
      .onConflictDoUpdate({ target: [credentials.tenant_id, credentials.key], set: { ...sealed, updated_at: now } });
  }
  if (entries.length) ctx.log.info("credentials stored", { tenantId: tenant.id, keys: entries.map(([k]) => k) });
  return (await rowsOf(ctx, tenant.id)).map((row) => row.key);
}

/** The tenant's credential keys with masked values and update times, sorted by key. */
export async function listCredentials(ctx: VaultContext, tenantId: string): Promise<CredentialSummary[]> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const vault = Vault.fromConfig(ctx.config);
  return (await rowsOf(ctx, tenant.id)).map((row) => ({
    key: row.key,
    masked: maskOrMark(vault, tenant.id, row),
    updated_at: row.updated_at,
  }));
}

/** Removes one credential; true when it existed. An invalid key name → ValidationError. */
export async function deleteCredential(ctx: VaultContext, tenantId: string, key: string): Promise<boolean> {
  if (!CREDENTIAL_KEY_PATTERN.test(key)) {
    throw new ValidationError(
      `Credential key ${JSON.stringify(key.slice(0, 80))} is invalid: it must match ^[A-Z][A-Z0-9_]{0,63}$.`,
      "invalid_credential",
    );
  }
  const tenant = await requireTenant(ctx.db, tenantId);
  const removed = await ctx.db
    .delete(credentials)
    .where(and(eq(credentials.tenant_id, tenant.id), eq(credentials.key, key)))
    .returning({ key: credentials.key });
  if (removed.length) ctx.log.info("credential deleted", { tenantId: tenant.id, key });
  return removed.length > 0;
}

/**
 * Every credential of the tenant, decrypted (for the agent's environment and server-side tools
 * only). A value that cannot be decrypted → AppError `credential_undecryptable` naming tenant and key.
 */
export async function getCredentials(ctx: VaultContext, tenantId: string): Promise<Record<string, string>> {
  return openCredentials(ctx, await requireTenant(ctx.db, tenantId));
}

/** getCredentials for a tenant already loaded (no second read of its row). */
export async function openCredentials(
  ctx: Pick<AppContext, "config" | "db">,
  tenant: Pick<Tenant, "id">,
): Promise<Record<string, string>> {
  const vault = Vault.fromConfig(ctx.config);
  const out: Record<string, string> = {};
  for (const row of await rowsOf(ctx, tenant.id)) out[row.key] = vault.open(tenant.id, row.key, row);
  return out;
}

/** One decrypted credential, or null when the tenant has no such key. */
export async function getCredential(ctx: VaultContext, tenantId: string, key: string): Promise<string | null> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const rows = await ctx.db
    .select()
    .from(credentials)
    .where(and(eq(credentials.tenant_id, tenant.id), eq(credentials.key, key)))
    .limit(1);
  const row = rows[0];
  return row ? Vault.fromConfig(ctx.config).open(tenant.id, key, row) : null;
}

/** A tenant's stored credentials, by key (read before every agent run). */
const credentialRows = preparedPerDatabase((db) =>
  db
    .select()
    .from(credentials)
    .where(eq(credentials.tenant_id, sql.placeholder("tenantId")))
    .orderBy(asc(credentials.key))
    .prepare(),
);

async function rowsOf(ctx: Pick<AppContext, "db">, tenantId: string): Promise<(typeof credentials.$inferSelect)[]> {
  return credentialRows(ctx.db).all({ tenantId });
}

function maskOrMark(vault: Vault, tenantId: string, row: typeof credentials.$inferSelect): string {
  try {
    return maskValue(vault.open(tenantId, row.key, row));
  } catch {
    return "(undecryptable: wrong CREDENTIALS_KEY?)"; // listing must still work; validation reports the detail
  }
}

/** Credential key names: an upper-case letter, then upper-case letters, digits and _ (max 64). */
export const CREDENTIAL_KEY_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;
/** The largest value the vault stores, in UTF-8 bytes. */
export const MAX_CREDENTIAL_VALUE_BYTES = 64 * 1024;

const KEY_RULE = "must match ^[A-Z][A-Z0-9_]{0,63}$ (e.g. SENDGRID_API_KEY)";

/** A credential key name (zod), for route parameters and bodies. */
export const credentialKeySchema = z.string().regex(CREDENTIAL_KEY_PATTERN, KEY_RULE);

/** A credential value (zod): a non-empty string of at most 64 KiB. */
export const credentialValueSchema = z
  .string()
  .min(1, "must not be empty (delete the credential instead)")
  .refine((v) => Buffer.byteLength(v, "utf8") <= MAX_CREDENTIAL_VALUE_BYTES, "must be at most 64 KiB");

/**
 * `{KEY: VALUE, …}` as the admin API and intake files take it. Errors name the field and say
 * what is expected: a missing/non-object field, and each bad key by its name (zod's own record-key
 * error only says "Invalid key in record").
 */
export const credentialRecordSchema = z
  .record(z.string(), credentialValueSchema, {
    error: (issue) =>
      issue.input === undefined ? 'required: an object {"KEY": "value", …}' : 'must be an object {"KEY": "value", …}',
  })
  .superRefine((record, ctx) => {
    for (const key of Object.keys(record)) {
      if (!CREDENTIAL_KEY_PATTERN.test(key)) ctx.addIssue({ code: "custom", path: [key], message: `key ${KEY_RULE}` });
    }
  });

/** Throws ValidationError `invalid_credential` naming the key (never the value) when it is not acceptable. */
export function checkCredential(key: string, value: unknown): string {
  if (!CREDENTIAL_KEY_PATTERN.test(key)) {
    throw new ValidationError(
      `Credential key ${JSON.stringify(key.slice(0, 80))} is invalid: it must match ^[A-Z][A-Z0-9_]{0,63}$ (e.g. SENDGRID_API_KEY).`,
      "invalid_credential",
    );
  }
  if (typeof value !== "string")
    throw new ValidationError(`Credential ${key}: the value must be a string.`, "invalid_credential");
  if (value.length === 0) {
    throw new ValidationError(
      `Credential ${key}: the value is empty; delete the credential instead.`,
      "invalid_credential",
    );
  }
  if (Buffer.byteLength(value, "utf8") > MAX_CREDENTIAL_VALUE_BYTES) {
    throw new ValidationError(`Credential ${key}: the value is larger than 64 KiB.`, "invalid_credential");
  }
  return value;
}

/** "••••abcd": at most the last 4 characters shown, and only for values of 12 characters or more. */
export function maskValue(value: string): string {
  const chars = Array.from(value);
  if (chars.length < 12) return "••••••••";
  return `••••${chars.slice(-4).join("")}`;
}
