import { lstat, rm, unlink } from "node:fs/promises";
import { and, count, eq } from "drizzle-orm";
import { tenantConfigDirPath } from "../agent/index.ts";
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
 * it through the foreign keys' ON DELETE CASCADE), its workspace folder and its agent CLI folder
 * (`$CLAUDE_CONFIG_DIR/tenants/<id>`: session transcripts). Returns a line per
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
  // The CLI's folder holds the tenant's session transcripts: the whole conversation, so it goes too.
  if (await removeTreeNoFollow(tenantConfigDirPath(ctx.config.CLAUDE_CONFIG_DIR, tenant.id))) {
    removed.push(`agent CLI folder tenants/${tenant.id}/ (sessions and transcripts)`);
  }
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

/**
 * Removes `path` and everything below it without following a link: the agent may have filled its folders
 * with symlinks to anywhere. A symlink (or file) at `path` itself is unlinked; below it, rm removes links as
 * links (checked by the purge tests). Returns false when nothing was there.
 */
async function removeTreeNoFollow(path: string): Promise<boolean> {
  let isDirectory: boolean;
  try {
    isDirectory = (await lstat(path)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  if (isDirectory) await rm(path, { recursive: true, force: true });
  else await unlink(path);
  return true;
}
