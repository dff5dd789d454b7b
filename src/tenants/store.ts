import type { SQL } from "drizzle-orm";
import { and, count, desc, eq, sql } from "drizzle-orm";
import type { Db, TenantRow } from "../db/index.ts";
import { preparedPerDatabase, schema } from "../db/index.ts";
import { ConflictError } from "../errors.ts";
import type { ListTenantsOptions, Tenant } from "./types.ts";
import { businessProfileSchema, isTenantId, normalizePhone, tenantNotFound } from "./types.ts";

const { tenants } = schema;

const tenantBy = preparedPerDatabase((db) => {
  const by = (column: typeof tenants.id | typeof tenants.phone_number | typeof tenants.telegram_chat_id) =>
    db
      .select()
      .from(tenants)
      .where(eq(column, sql.placeholder("value")))
      .limit(1)
      .prepare();
  return { id: by(tenants.id), phone: by(tenants.phone_number), chatId: by(tenants.telegram_chat_id) };
});

/** The first tenant whose column holds this value (each is unique), or null. */
async function findTenantBy(db: Db, column: keyof ReturnType<typeof tenantBy>, value: string): Promise<Tenant | null> {
  const rows: TenantRow[] = await tenantBy(db)[column].all({ value });
  return rows[0] ? tenantFromRow(rows[0]) : null;
}

/** Turns a row into a Tenant; a business column that is not valid JSON reads as an empty profile. */
export function tenantFromRow(row: TenantRow): Tenant {
  return { ...row, business: parseBusiness(row.business) };
}

/**
 * The stored profile; fields that do not pass the schema (a hand-edited row) are left out rather
 * than failing every read, and invalid JSON reads as an empty profile.
 */
function parseBusiness(json: string): Tenant["business"] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return {}; // not JSON at all (hand-edited): nothing usable
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return {};
  const record = { ...(raw as Record<string, unknown>) };
  const first = businessProfileSchema.safeParse(record);
  if (first.success) return first.data;
  for (const issue of first.error.issues) delete record[String(issue.path[0])];
  const second = businessProfileSchema.safeParse(record);
  return second.success ? second.data : {};
}

/** The tenant with this id, or null (also null for a non-UUID id, which never reaches a query). */
export async function getTenant(db: Db, id: string): Promise<Tenant | null> {
  if (!isTenantId(id)) return null;
  return findTenantBy(db, "id", id.toLowerCase());
}

/** The tenant with this id; NotFoundError `tenant_not_found` when the id is not a UUID or unknown. */
export async function requireTenant(db: Db, id: string): Promise<Tenant> {
  const tenant = await getTenant(db, id);
  if (!tenant) throw tenantNotFound(id);
  return tenant;
}

/**
 * The tenant with this id, if it may be changed: NotFoundError as requireTenant, ConflictError
 * `tenant_archived` (409) when it is ARCHIVED — archived tenants are read-only (PATCH, link, credentials).
 */
export async function requireMutableTenant(db: Db, id: string): Promise<Tenant> {
  return assertMutable(await requireTenant(db, id));
}

/** The tenant itself, or ConflictError `tenant_archived` when it is ARCHIVED. */
export function assertMutable(tenant: Tenant): Tenant {
  if (tenant.status === "ARCHIVED") {
    throw new ConflictError("tenant_archived", `Tenant ${tenant.id} is archived; archived tenants cannot be changed.`);
  }
  return tenant;
}

/**
 * The tenant with this phone number, or null. The number is normalised first, so
 * "+1 (801) 555-1234" and Twilio's "whatsapp:+18015551234" both find "+18015551234";
 * a number that cannot be normalised finds nothing.
 */
export async function findTenantByPhone(db: Db, phone: string): Promise<Tenant | null> {
  let e164: string;
  try {
    e164 = normalizePhone(phone);
  } catch {
    return null; // not a phone number: no tenant has it
  }
  return findTenantBy(db, "phone", e164);
}

/** The tenant linked to this Telegram chat, or null. */
export async function findTenantByChatId(db: Db, chatId: string): Promise<Tenant | null> {
  return findTenantBy(db, "chatId", String(chatId));
}

/** A page of tenants, newest first, with the total matching the filters. */
export async function listTenants(
  db: Db,
  options: ListTenantsOptions = {},
): Promise<{ tenants: Tenant[]; total: number }> {
  const filters: SQL[] = [];
  if (options.status) filters.push(eq(tenants.status, options.status));
  if (options.onboarding_status) filters.push(eq(tenants.onboarding_status, options.onboarding_status));
  const where = filters.length ? and(...filters) : undefined;
  const limit = Math.max(1, Math.min(options.limit ?? 50, 500));
  const offset = Math.max(0, options.offset ?? 0);
  const rows = await db
    .select()
    .from(tenants)
    .where(where)
    .orderBy(desc(tenants.created_at), tenants.id)
    .limit(limit)
    .offset(offset);
  const totals = await db.select({ n: count() }).from(tenants).where(where);
  return { tenants: rows.map(tenantFromRow), total: totals[0]?.n ?? 0 };
}

/** The first uid handed to a tenant (tenants.uid); far above any system or login account. */
export const TENANT_UID_BASE = 200_000;

/**
 * The next free uid as one SQL expression: used inside the INSERT or UPDATE that stores it, so the pick and the
 * write are one statement (SQLite and libSQL run writes one at a time: two processes never pick the same uid;
 * the unique index is the backstop).
 */
export const nextTenantUid = sql`(SELECT COALESCE(MAX(${tenants.uid}) + 1, ${TENANT_UID_BASE}) FROM ${tenants})`;

/**
 * The tenant's host uid for agent runs and tool checks: the stored one, or — for a tenant created by an older
 * version after the migration's backfill — one allocated now and stored for good. A uid is never shared.
 */
export async function tenantUid(db: Db, tenantId: string): Promise<number> {
  const read = async () =>
    (await db.select({ uid: tenants.uid }).from(tenants).where(eq(tenants.id, tenantId)).limit(1))[0];
  const row = await read();
  if (!row) throw tenantNotFound(tenantId);
  if (row.uid !== null) return row.uid;
  await db
    .update(tenants)
    .set({ uid: nextTenantUid })
    .where(sql`${tenants.id} = ${tenantId} AND ${tenants.uid} IS NULL`);
  const stored = (await read())?.uid;
  if (stored === null || stored === undefined) throw tenantNotFound(tenantId);
  return stored;
}

/**
 * Gives every tenant with no owning instance (made before instances existed) to `instanceId`, in one
 * UPDATE; returns how many. Called at start by an instance that is alone on the database.
 */
export async function adoptUnownedTenants(db: Db, instanceId: string, nowMs: number): Promise<number> {
  const rows = await db
    .update(tenants)
    .set({ instance_id: instanceId, updated_at: new Date(nowMs).toISOString() })
    .where(sql`${tenants.instance_id} IS NULL`)
    .returning({ id: tenants.id });
  return rows.length;
}

/**
 * Moves the tenant's ownership from `from` to `to` in one conditional UPDATE (a tenant with no owner
 * counts as `from`'s); true when this call switched it, false when the tenant was not `from`'s.
 */
export async function switchTenantOwner(
  db: Db,
  tenantId: string,
  from: string,
  to: string,
  nowMs: number,
): Promise<boolean> {
  const rows = await db
    .update(tenants)
    .set({ instance_id: to, updated_at: new Date(nowMs).toISOString() })
    .where(and(eq(tenants.id, tenantId), sql`(${tenants.instance_id} = ${from} OR ${tenants.instance_id} IS NULL)`))
    .returning({ id: tenants.id });
  return rows.length > 0;
}
