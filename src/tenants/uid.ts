import { eq, sql } from "drizzle-orm";
import { TENANT_UID_BASE } from "../agent/index.ts";
import type { Db } from "../db/index.ts";
import { schema } from "../db/index.ts";
import { tenantNotFound } from "./ids.ts";

const { tenants } = schema;

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
  const read = async () => (await db.select({ uid: tenants.uid }).from(tenants).where(eq(tenants.id, tenantId)).limit(1))[0];
  const row = await read();
  if (!row) throw tenantNotFound(tenantId);
  if (row.uid !== null) return row.uid;
  await db.update(tenants).set({ uid: nextTenantUid }).where(sql`${tenants.id} = ${tenantId} AND ${tenants.uid} IS NULL`);
  const stored = (await read())?.uid;
  if (stored === null || stored === undefined) throw tenantNotFound(tenantId);
  return stored;
}
