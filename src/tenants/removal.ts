import { and, count, eq } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { schema } from "../db/index.ts";
import { ConflictError } from "../errors.ts";
import { requireTenant } from "./store.ts";
import type { Tenant } from "./types.ts";
import { removeWorkspace } from "./workspace.ts";

const { tenants } = schema;

/** Sets status ARCHIVED (idempotent). The folder and data stay until purgeTenant. */
export async function archiveTenant(ctx: AppContext, id: string): Promise<Tenant> {
  const current = await requireTenant(ctx.db, id);
  if (current.status === "ARCHIVED") return current;
  await ctx.db
    .update(tenants)
    .set({ status: "ARCHIVED", updated_at: isoAt(ctx.clock.now()) })
    .where(eq(tenants.id, current.id));
  ctx.log.info("tenant archived", { tenantId: current.id });
  return requireTenant(ctx.db, current.id);
}

/**
 * Deletes an ARCHIVED tenant for good: its row (messages, tasks, session and credentials go with
 * it through the foreign keys' ON DELETE CASCADE) and its workspace folder. Returns a line per
 * thing removed. A tenant that is not archived → ConflictError `tenant_not_archived`.
 */
export async function purgeTenant(ctx: AppContext, id: string): Promise<{ removed: string[] }> {
  const tenant = await requireTenant(ctx.db, id);
  if (tenant.status !== "ARCHIVED") {
    throw new ConflictError("tenant_not_archived", `Tenant ${tenant.id} is not archived; archive it before purging.`);
  }
  const counts = await countTenantRows(ctx, tenant.id);
  const deleted = await ctx.db
    .delete(tenants)
    .where(and(eq(tenants.id, tenant.id), eq(tenants.status, "ARCHIVED")))
    .returning({ id: tenants.id });
  if (deleted.length === 0) {
    throw new ConflictError("tenant_not_archived", `Tenant ${tenant.id} changed while purging; nothing was removed.`);
  }
  const removed = [`tenant record ${tenant.id} (${tenant.name}, ${tenant.phone_number})`];
  for (const [what, n] of counts) if (n > 0) removed.push(`${n} ${what}`);
  if (removeWorkspace(ctx, tenant.id)) removed.push(`workspace folder ${tenant.id}/`);
  ctx.log.info("tenant purged", { tenantId: tenant.id, removed });
  return { removed };
}

async function countTenantRows(ctx: AppContext, tenantId: string): Promise<[string, number][]> {
  const tables = [
    ["messages", schema.messages, schema.messages.tenant_id],
    ["scheduled tasks", schema.scheduledTasks, schema.scheduledTasks.tenant_id],
    ["credentials", schema.credentials, schema.credentials.tenant_id],
    ["conversation sessions", schema.conversationSessions, schema.conversationSessions.tenant_id],
  ] as const;
  const out: [string, number][] = [];
  for (const [what, table, column] of tables) {
    const rows = await ctx.db.select({ n: count() }).from(table).where(eq(column, tenantId));
    out.push([what, rows[0]?.n ?? 0]);
  }
  return out;
}
