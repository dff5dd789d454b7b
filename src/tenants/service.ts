import { randomUUID } from "node:crypto";
import { count, eq } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { schema } from "../db/index.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import { writeClaudeMd } from "./claude-md.ts";
import { isUniqueViolation } from "./db-errors.ts";
import { parseInput } from "./parse.ts";
import { assertTransition, type LifecycleActor } from "./lifecycle.ts";
import { findTenantByPhone, requireTenant, tenantFromRow } from "./store.ts";
import {
  businessProfileSchema,
  newTenantSchema,
  tenantPatchSchema,
  type NewTenantInput,
  type OnboardingStatus,
  type Tenant,
  type TenantPatch,
} from "./types.ts";
import { createWorkspace, removeWorkspace } from "./workspace.ts";

const { tenants } = schema;
const MAX_BUSINESS_JSON_BYTES = 64 * 1024;

/**
 * Creates a tenant (UUID id, E.164 phone, DISCOVERY, ACTIVE) and its workspace. A phone number
 * that already has a tenant → ConflictError `tenant_exists` naming that tenant's id.
 * Input is parsed with newTenantSchema (ValidationError naming each bad field).
 */
export async function createTenant(ctx: AppContext, input: NewTenantInput): Promise<Tenant> {
  const data = parseInput(newTenantSchema, input);
  const business = checkBusiness(data.business);
  const existing = await findTenantByPhone(ctx.db, data.phone);
  if (existing) throw tenantExists(data.phone, existing);
  const now = isoAt(ctx.clock.now());
  const id = randomUUID();
  try {
    await ctx.db.insert(tenants).values({
      id,
      name: data.name,
      phone_number: data.phone,
      channel: data.channel,
      timezone: data.timezone,
      business: JSON.stringify(business),
      created_at: now,
      updated_at: now,
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const winner = await findTenantByPhone(ctx.db, data.phone);
    if (winner) throw tenantExists(data.phone, winner); // a concurrent create won the race
    throw err;
  }
  const tenant = await requireTenant(ctx.db, id);
  try {
    await createWorkspace(ctx, tenant);
  } catch (err) {
    // No half-created tenant: without its folder the record is useless, so take it back.
    await ctx.db.delete(tenants).where(eq(tenants.id, id));
    throw new Error(`Could not create the workspace of the new tenant: ${(err as Error).message}`, { cause: err });
  }
  ctx.log.info("tenant created", { tenantId: id, channel: tenant.channel });
  return tenant;
}

/**
 * Updates name, timezone, business profile (merged field by field into the stored one; a field
 * set to null is removed) and/or onboarding_status (lifecycle rules of an operator apply).
 * Re-renders CLAUDE.md when anything it shows changed. Archived tenants are read-only.
 */
export async function updateTenant(ctx: AppContext, id: string, patch: TenantPatch): Promise<Tenant> {
  const changes = parseInput(tenantPatchSchema, patch);
  const current = await requireTenant(ctx.db, id);
  if (current.status === "ARCHIVED") {
    throw new ConflictError("tenant_archived", `Tenant ${current.id} is archived; archived tenants cannot be changed.`);
  }
  if (changes.onboarding_status) assertTransition(current.onboarding_status, changes.onboarding_status, "operator");
  const business =
    changes.business === undefined ? undefined : checkBusiness(mergeBusiness(current.business, changes.business));
  await ctx.db
    .update(tenants)
    .set({
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.timezone !== undefined && { timezone: changes.timezone }),
      ...(changes.onboarding_status !== undefined && { onboarding_status: changes.onboarding_status }),
      ...(business !== undefined && { business: JSON.stringify(business) }),
      updated_at: isoAt(ctx.clock.now()),
    })
    .where(eq(tenants.id, current.id));
  const updated = await requireTenant(ctx.db, current.id);
  if (claudeMdInputsChanged(current, updated)) rerender(ctx, updated);
  ctx.log.info("tenant updated", { tenantId: current.id, fields: Object.keys(changes) });
  return updated;
}

/**
 * Moves the tenant's lifecycle stage. `by: "agent"` may only move DISCOVERY → BUILDING; the
 * operator follows the rules of assertTransition. Re-renders CLAUDE.md on a change.
 */
export async function setOnboardingStatus(
  ctx: AppContext,
  id: string,
  status: OnboardingStatus,
  options: { by: LifecycleActor },
): Promise<Tenant> {
  const current = await requireTenant(ctx.db, id);
  if (current.status === "ARCHIVED") {
    throw new ConflictError("tenant_archived", `Tenant ${current.id} is archived; archived tenants cannot be changed.`);
  }
  assertTransition(current.onboarding_status, status, options.by);
  if (current.onboarding_status === status) return current;
  const rows = await ctx.db
    .update(tenants)
    .set({ onboarding_status: status, updated_at: isoAt(ctx.clock.now()) })
    .where(eq(tenants.id, current.id))
    .returning();
  const updated = rows[0] ? tenantFromRow(rows[0]) : await requireTenant(ctx.db, current.id);
  rerender(ctx, updated);
  ctx.log.info("onboarding status changed", { tenantId: current.id, from: current.onboarding_status, to: status, by: options.by });
  return updated;
}

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
  await ctx.db.delete(tenants).where(eq(tenants.id, tenant.id));
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

function mergeBusiness(current: Tenant["business"], patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

function checkBusiness(business: unknown): Tenant["business"] {
  const parsed = parseInput(businessProfileSchema, business, "business");
  if (Buffer.byteLength(JSON.stringify(parsed)) > MAX_BUSINESS_JSON_BYTES) {
    throw new ValidationError("business: the profile is larger than 64 KiB.");
  }
  return parsed;
}

function claudeMdInputsChanged(before: Tenant, after: Tenant): boolean {
  return (
    before.name !== after.name ||
    before.timezone !== after.timezone ||
    before.onboarding_status !== after.onboarding_status ||
    JSON.stringify(before.business) !== JSON.stringify(after.business)
  );
}

function rerender(ctx: AppContext, tenant: Tenant): void {
  try {
    writeClaudeMd(ctx, tenant);
  } catch (err) {
    // The database change stands; init-tenant or the next change re-renders. Say so loudly.
    ctx.log.error("CLAUDE.md re-render failed", { tenantId: tenant.id, error: err as Error });
  }
}

function tenantExists(phone: string, existing: Tenant): ConflictError {
  const archived = existing.status === "ARCHIVED" ? " (archived; purge it to reuse the number)" : "";
  return new ConflictError("tenant_exists", `A tenant with phone ${phone} already exists: ${existing.id}${archived}.`);
}
