import { eq } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { schema } from "../db/index.ts";
import { NotFoundError } from "../errors.ts";

/** The tenant fields the scheduler decides on. */
export interface TaskTenant {
  id: string;
  status: "ACTIVE" | "ARCHIVED";
  onboarding_status: "DISCOVERY" | "BUILDING" | "LIVE" | "PAUSED";
  timezone: string;
}

/** The tenant (read only: status, onboarding status and zone), or null when there is none. */
export async function findTaskTenant(db: Db, tenantId: string): Promise<TaskTenant | null> {
  const t = schema.tenants;
  const rows = await db
    .select({ id: t.id, status: t.status, onboarding_status: t.onboarding_status, timezone: t.timezone })
    .from(t)
    .where(eq(t.id, tenantId))
    .limit(1);
  return rows[0] ?? null;
}

/** Like findTaskTenant, but a missing tenant is a NotFoundError (404 tenant_not_found). */
export async function requireTaskTenant(db: Db, tenantId: string): Promise<TaskTenant> {
  const tenant = await findTaskTenant(db, tenantId);
  if (!tenant) throw new NotFoundError("tenant_not_found", `No tenant with id ${tenantId}.`);
  return tenant;
}
