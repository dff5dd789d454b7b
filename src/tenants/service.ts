import { randomUUID } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { schema } from "../db/index.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import { writeClaudeMd } from "./claude-md.ts";
import { isUniqueViolation } from "./db-errors.ts";
import { parseInput } from "./parse.ts";
import { assertTransition, type LifecycleActor } from "./lifecycle.ts";
import { findTenantByPhone, requireMutableTenant, requireTenant, tenantFromRow } from "./store.ts";
import {
  businessProfileSchema,
  newTenantSchema,
  tenantPatchSchema,
  type NewTenantInput,
  type OnboardingStatus,
  type Tenant,
  type TenantPatch,
} from "./types.ts";
import { createWorkspace } from "./workspace.ts";
import { nextTenantUid } from "./uid.ts";

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
      uid: nextTenantUid,
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

/** How often a change is re-applied when another writer changed the tenant in between. */
const MAX_UPDATE_ATTEMPTS = 5;

/**
 * Updates name, timezone, business profile (merged field by field into the stored one; a field
 * set to null is removed) and/or onboarding_status (lifecycle rules of an operator apply).
 * Re-renders CLAUDE.md when anything it shows changed. Archived tenants are read-only.
 * The write is conditional on the row being unchanged since it was read (re-tried otherwise), so
 * an agent's profile update and an operator's edit at the same moment never lose each other's fields.
 */
export async function updateTenant(ctx: AppContext, id: string, patch: TenantPatch): Promise<Tenant> {
  const changes = parseInput(tenantPatchSchema, patch);
  for (let attempt = 1; ; attempt++) {
    const current = await requireMutableTenant(ctx.db, id);
    if (changes.onboarding_status) assertTransition(current.onboarding_status, changes.onboarding_status, "operator");
    const business =
      changes.business === undefined ? undefined : checkBusiness(mergeBusiness(current.business, changes.business));
    const written = await ctx.db
      .update(tenants)
      .set({
        ...(changes.name !== undefined && { name: changes.name }),
        ...(changes.timezone !== undefined && { timezone: changes.timezone }),
        ...(changes.onboarding_status !== undefined && { onboarding_status: changes.onboarding_status }),
        ...(business !== undefined && { business: JSON.stringify(business) }),
        updated_at: isoAt(ctx.clock.now()),
      })
      .where(unchangedSince(current))
      .returning();
    if (written[0]) {
      const updated = tenantFromRow(written[0]);
      if (claudeMdInputsChanged(current, updated)) rerender(ctx, updated);
      ctx.log.info("tenant updated", { tenantId: current.id, fields: Object.keys(changes), attempt });
      return updated;
    }
    if (attempt >= MAX_UPDATE_ATTEMPTS) throw busy(current.id);
  }
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
  for (let attempt = 1; ; attempt++) {
    const current = await requireMutableTenant(ctx.db, id);
    assertTransition(current.onboarding_status, status, options.by);
    if (current.onboarding_status === status) return current;
    const written = await ctx.db
      .update(tenants)
      .set({ onboarding_status: status, updated_at: isoAt(ctx.clock.now()) })
      .where(unchangedSince(current))
      .returning();
    if (written[0]) {
      const updated = tenantFromRow(written[0]);
      rerender(ctx, updated);
      ctx.log.info("onboarding status changed", { tenantId: current.id, from: current.onboarding_status, to: status, by: options.by });
      return updated;
    }
    if (attempt >= MAX_UPDATE_ATTEMPTS) throw busy(current.id);
  }
}

/** The row is as it was read: same update time, stage and status. */
function unchangedSince(current: Tenant) {
  return and(
    eq(tenants.id, current.id),
    eq(tenants.updated_at, current.updated_at),
    eq(tenants.onboarding_status, current.onboarding_status),
    eq(tenants.status, current.status),
  );
}

function busy(id: string): ConflictError {
  return new ConflictError("tenant_busy", `Tenant ${id} kept changing while this update was applied; try again.`);
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
