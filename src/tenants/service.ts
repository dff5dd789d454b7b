import { randomUUID } from "node:crypto";
import { lstat, rm, unlink } from "node:fs/promises";
import { and, count, eq } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { schema } from "../db/index.ts";
import { ConflictError, parseInput, ValidationError } from "../errors.ts";
import { getInstance, wrongInstance } from "../instances/index.ts";
import { writeClaudeMd } from "./claude-md.ts";
import { findTenantByPhone, nextTenantUid, requireMutableTenant, requireTenant, tenantFromRow } from "./store.ts";
import type { NewTenantInput, OnboardingStatus, Tenant, TenantPatch } from "./types.ts";
import { businessProfileSchema, newTenantSchema, tenantPatchSchema } from "./types.ts";
import { createWorkspace, removeWorkspace } from "./workspace.ts";
import { tenantConfigDirPath } from "./workspace-fs.ts";

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
  const instanceId = await creatingInstance(ctx, data.instance_id);
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
      instance_id: instanceId,
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
 * The owner of a new tenant: this instance (its workspace is made here). Another, registered instance →
 * `wrong_instance` naming it (the call must run there, where the workspace will live); an unknown one → 400.
 */
async function creatingInstance(ctx: AppContext, requested: string | undefined): Promise<string> {
  if (requested === undefined || requested === ctx.config.INSTANCE_ID) return ctx.config.INSTANCE_ID;
  if (!(await getInstance(ctx.db, requested, ctx.clock))) {
    throw new ValidationError(
      `instance_id: no instance ${requested} is registered (GET /admin/instances lists them)`,
      "unknown_instance",
    );
  }
  throw await wrongInstance(ctx, requested);
}

/** How often a change is re-applied when another writer changed the tenant in between. */
const MAX_UPDATE_ATTEMPTS = 5;

/**
 * Updates name, timezone, business profile (merged field by field into the stored one; a field
 * set to null is removed), onboarding_status (lifecycle rules of an operator apply) and/or
 * monthly_budget_usd (null clears it).
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
        ...(changes.monthly_budget_usd !== undefined && { monthly_budget_usd: changes.monthly_budget_usd }),
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
      ctx.log.info("onboarding status changed", {
        tenantId: current.id,
        from: current.onboarding_status,
        to: status,
        by: options.by,
      });
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

/** Who asks for a lifecycle change: the operator (CLI, admin API) or the tenant's agent (MCP tool). */
export type LifecycleActor = "operator" | "agent";

const ORDER: Record<Exclude<OnboardingStatus, "PAUSED">, number> = { DISCOVERY: 0, BUILDING: 1, LIVE: 2 };

/**
 * Checks a lifecycle move and throws ConflictError `invalid_transition` with the reason when it
 * is not allowed. Rules: staying put is fine; DISCOVERY → BUILDING → LIVE forward (an operator
 * may skip BUILDING); PAUSED from any state and from PAUSED back to any; moving backwards
 * (e.g. LIVE → DISCOVERY) is an operator decision taken through PAUSED. The agent may only
 * move DISCOVERY → BUILDING (it decides when its interview is done).
 */
export function assertTransition(from: OnboardingStatus, to: OnboardingStatus, by: LifecycleActor): void {
  if (from === to) return;
  if (by === "agent") {
    if (from === "DISCOVERY" && to === "BUILDING") return;
    throw refused(from, to, "the agent may only move a tenant from DISCOVERY to BUILDING; ask the operator");
  }
  if (to === "PAUSED" || from === "PAUSED") return;
  if (ORDER[to] > ORDER[from]) return;
  throw refused(from, to, `moving back restarts onboarding; set PAUSED first, then ${to}, if that is intended`);
}

/** True when assertTransition would accept the move. */
export function canTransition(from: OnboardingStatus, to: OnboardingStatus, by: LifecycleActor): boolean {
  try {
    assertTransition(from, to, by);
    return true;
  } catch {
    return false; // the refusal is the answer
  }
}

function refused(from: OnboardingStatus, to: OnboardingStatus, why: string): ConflictError {
  return new ConflictError("invalid_transition", `Cannot change onboarding status from ${from} to ${to}: ${why}.`);
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

/** True when a database error (either driver, possibly wrapped by drizzle) is a UNIQUE violation. */
export function isUniqueViolation(err: unknown): boolean {
  return errorChain(err).some((e) =>
    /UNIQUE constraint failed|SQLITE_CONSTRAINT_UNIQUE/i.test(`${e.message} ${codeOf(e)}`),
  );
}

function errorChain(err: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = err;
  while (current instanceof Error && chain.length < 8) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

function codeOf(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : "";
}
