import type { SQL } from "drizzle-orm";
import { and, eq, getTableColumns, inArray, sql } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { Db, MessageRow } from "../db/index.ts";
import { preparedPerDatabase } from "../db/index.ts";
import { conversationSessions, messages, tenants } from "../db/schema.ts";

type ChannelName = MessageRow["channel"];

/** Which queued work a dispatcher may take. */
export interface QueueScope {
  /** Only messages on these channels (a process takes only what it can answer). */
  channels: readonly ChannelName[];
  /** Only this tenant (the terminal chat). */
  tenantId?: string;
  /** Only tenants this instance owns (`tenants.instance_id`; a tenant with no owner yet counts as ours). */
  instanceId?: string;
}

function scopeCondition(scope: QueueScope) {
  const conditions = [inArray(messages.channel, [...scope.channels])];
  if (scope.tenantId !== undefined) conditions.push(eq(messages.tenant_id, scope.tenantId));
  if (scope.instanceId !== undefined) conditions.push(ownedBy(sql`${messages.tenant_id}`, scope.instanceId));
  return conditions;
}

/** The tenant is owned by this instance (or by none yet). */
const ownedBy = (tenantId: SQL, instanceId: string) =>
  sql`EXISTS (SELECT 1 FROM ${tenants} t WHERE t.id = ${tenantId} AND (t.instance_id = ${instanceId} OR t.instance_id IS NULL))`;

/**
 * Whether a tenant this instance owns has queued inbound messages: the poll by which an owner learns of
 * messages another instance stored (remote database only). Found through the (direction, status) index,
 * which holds only the queued rows under that prefix, then each row's tenant by its key (see its plan test).
 */
export async function hasQueuedForInstance(db: Db, instanceId: string): Promise<boolean> {
  const rows = await db.all<{ found: number }>(hasQueuedForInstanceQuery(instanceId));
  return rows.length > 0;
}

/** The query of hasQueuedForInstance (exported for the plan test). */
export function hasQueuedForInstanceQuery(instanceId: string): SQL {
  return sql`SELECT 1 AS found FROM ${messages} m INDEXED BY messages_outbox_idx
    WHERE m.direction = 'in' AND m.status = 'queued' AND ${ownedBy(sql`m.tenant_id`, instanceId)} LIMIT 1`;
}

/**
 * When the tenant was last served: its conversation_sessions row's updated_at (set when a run takes,
 * renews or releases the lease); NULL for a tenant never run.
 */
const lastServed = (tenantId: SQL | string) =>
  sql`(SELECT s.updated_at FROM ${conversationSessions} s WHERE s.tenant_id = ${tenantId})`;

/**
 * Tenants with queued inbound messages, least recently served first (round robin across tenants):
 * never-served tenants first, then the one served longest ago; the oldest queued message breaks ties.
 * So in a burst a tenant whose first batch just ran, and whose follow-ups queued meanwhile, comes
 * after every tenant still waiting for a first run, even one whose first message arrived later.
 */
export async function tenantsWithQueued(
  db: Db,
  scope: QueueScope,
  excludeTenantIds: readonly string[],
  limit: number,
): Promise<string[]> {
  const rows = await perScope(candidateStatements(db), scope, () => buildCandidates(db, scope)).all({
    exclude: JSON.stringify(excludeTenantIds),
    limit,
  });
  return rows.flatMap((r) => (r.tenantId ? [r.tenantId] : []));
}

/** The query behind tenantsWithQueued, prepared per scope (it runs after every finished run). */
function buildCandidates(db: Db, scope: QueueScope) {
  const lastRun = lastServed(sql`${messages.tenant_id}`);
  return db
    .select({ tenantId: messages.tenant_id, oldest: sql<string>`min(${messages.created_at})` })
    .from(messages)
    .where(
      and(
        eq(messages.direction, "in"),
        eq(messages.status, "queued"),
        ...scopeCondition(scope),
        sql`${messages.tenant_id} IS NOT NULL`,
        sql`${messages.tenant_id} NOT IN ${inJsonList("exclude")}`,
      ),
    )
    .groupBy(messages.tenant_id)
    .orderBy(sql`${lastRun} IS NOT NULL`, lastRun, sql`min(${messages.created_at})`)
    .limit(sql.placeholder("limit"))
    .prepare();
}

const candidateStatements = preparedPerDatabase(() => new Map<string, ReturnType<typeof buildCandidates>>());

/**
 * True when another tenant (not in `excludeTenantIds`, its lease free) with queued messages was served
 * less recently than this one (or never): at the concurrency cap the dispatcher then lets it go first.
 */
export async function isLessRecentlyServedTenantWaiting(
  db: Db,
  scope: QueueScope,
  tenantId: string,
  excludeTenantIds: readonly string[],
  nowMs: number,
): Promise<boolean> {
  const inScope = and(...scopeCondition(scope));
  const otherLastRun = lastServed(sql`${messages.tenant_id}`);
  const ownLastRun = lastServed(tenantId);
  const leaseHeld = sql`EXISTS (SELECT 1 FROM ${conversationSessions} s WHERE s.tenant_id = ${messages.tenant_id}
    AND s.lease_expires_at IS NOT NULL AND s.lease_expires_at > ${isoAt(nowMs)})`;
  const excluded = [tenantId, ...excludeTenantIds];
  const rows = await db
    .select({ id: messages.id })
    .from(messages)
    .where(
      and(
        eq(messages.direction, "in"),
        eq(messages.status, "queued"),
        inScope,
        sql`${messages.tenant_id} IS NOT NULL AND ${messages.tenant_id} NOT IN ${excluded}`,
        sql`(${otherLastRun} IS NULL OR ${otherLastRun} < ${ownLastRun})`,
        sql`NOT ${leaseHeld}`,
      ),
    )
    .limit(1);
  return rows.length > 0;
}

/**
 * Marks every queued inbound message of the tenant `processing` for `owner` and returns them in
 * arrival order — only while `owner` holds the tenant's unexpired lease (checked in the same
 * statement); otherwise nothing is claimed.
 */
export async function claimQueued(
  db: Db,
  tenantId: string,
  owner: string,
  scope: QueueScope,
  nowMs: number,
): Promise<MessageRow[]> {
  const claimed: { row: MessageRow; rowid: number }[] = await claimStatement(db, scope).all({
    tenantId,
    owner,
    now: isoAt(nowMs),
  });
  // The claimed rows come back from the UPDATE itself (one statement per claim); RETURNING has no order.
  return claimed
    .sort((a, b) =>
      a.row.created_at < b.row.created_at ? -1 : a.row.created_at > b.row.created_at ? 1 : a.rowid - b.rowid,
    )
    .map((c) => c.row);
}

/** The claim, prepared per database and scope (a dispatcher's scope never changes; see preparedPerDatabase). */
function claimStatement(db: Db, scope: QueueScope): ClaimStatement {
  return perScope(claimStatements(db), scope, () => buildClaim(db, scope));
}

/** A statement of one scope, built on first use (a dispatcher's scope never changes). */
function perScope<T>(byScope: Map<string, T>, scope: QueueScope, build: () => T): T {
  const key = JSON.stringify([scope.channels, scope.tenantId ?? null, scope.instanceId ?? null]);
  let statement = byScope.get(key);
  if (!statement) {
    statement = build();
    byScope.set(key, statement);
  }
  return statement;
}

/**
 * `(SELECT value FROM json_each(?))`: a list bound as one JSON text parameter, so a statement with an IN list of any
 * length can be prepared once.
 */
function inJsonList(name: string): SQL {
  return sql`(SELECT value FROM json_each(${sql.placeholder(name)}))`;
}

function buildClaim(db: Db, scope: QueueScope) {
  const p = sql.placeholder;
  const leaseHeld = sql`EXISTS (SELECT 1 FROM ${conversationSessions} s WHERE s.tenant_id = ${p("tenantId")}
    AND s.lease_owner = ${p("owner")} AND s.lease_expires_at IS NOT NULL AND s.lease_expires_at > ${p("now")})`;
  return db
    .update(messages)
    .set({ status: "processing", lease_owner: sql`${p("owner")}`, attempts: sql`${messages.attempts} + 1` })
    .where(
      and(
        sql`${messages.tenant_id} = ${p("tenantId")}`,
        eq(messages.direction, "in"),
        eq(messages.status, "queued"),
        ...scopeCondition(scope),
        leaseHeld,
      ),
    )
    .returning({ row: getTableColumns(messages), rowid: sql<number>`rowid` })
    .prepare();
}

type ClaimStatement = ReturnType<typeof buildClaim>;
const claimStatements = preparedPerDatabase(() => new Map<string, ClaimStatement>());

/**
 * Finishes claimed messages: `done`, or `failed` with the error. Only rows still `processing` for
 * `owner` change (an operator may have freed the lease and another run taken them); returns their ids.
 */
export async function finishClaimed(
  db: Db,
  ids: readonly string[],
  owner: string,
  outcome: { status: "done" } | { status: "failed"; error: string },
  nowMs: number,
): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await claimedStatements(db).finish.all({
    ids: JSON.stringify(ids),
    owner,
    status: outcome.status,
    error: outcome.status === "failed" ? outcome.error : null,
    now: isoAt(nowMs),
  });
  return rows.map((r) => r.id);
}

/** Ids of the given messages still `processing` for `owner`. */
export async function stillClaimed(db: Db, ids: readonly string[], owner: string): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await claimedStatements(db).still.all({ ids: JSON.stringify(ids), owner });
  return rows.map((r) => r.id);
}

/** The statements on a run's claimed rows, run after every run (see preparedPerDatabase). */
const claimedStatements = preparedPerDatabase((db) => {
  const p = sql.placeholder;
  const heldBy = and(
    sql`${messages.id} IN ${inJsonList("ids")}`,
    eq(messages.status, "processing"),
    sql`${messages.lease_owner} = ${p("owner")}`,
  );
  return {
    finish: db
      .update(messages)
      .set({
        status: sql`${p("status")}`,
        error: sql`${p("error")}`,
        lease_owner: null,
        processed_at: sql`${p("now")}`,
      })
      .where(heldBy)
      .returning({ id: messages.id })
      .prepare(),
    still: db.select({ id: messages.id }).from(messages).where(heldBy).prepare(),
  };
});

/**
 * How far a reply's created_at may lie before its inbound message's (two processes' clocks on one
 * database). A reply is stored after its message was claimed, so on one clock it is never earlier.
 */
export const REPLY_CLOCK_SKEW_MS = 60 * 60_000;

/**
 * The query behind repliesTo: the tenant's outbound rows created since `sinceIso` that answer one of
 * `inboundIds`. The tenant and time condition keep it on messages_tenant_created_idx (reply_to has
 * no index: without them SQLite walked every outbound row — ~150 ms per run at 1M messages).
 */
export function repliesToQuery(tenantId: string, inboundIds: readonly string[], sinceIso: string): SQL {
  return sql`SELECT ${messages.reply_to} AS reply_to, ${messages.kind} AS kind FROM ${messages}
    WHERE ${messages.tenant_id} = ${tenantId} AND ${messages.created_at} >= ${sinceIso}
      AND ${messages.direction} = 'out' AND ${messages.reply_to} IN ${[...inboundIds]}`;
}

/**
 * The outbound rows already stored in answer to any of these inbound messages of one tenant (a run
 * that finished but whose messages were not marked before a crash): reply_to and kind. Only replies
 * created since the oldest message (less REPLY_CLOCK_SKEW_MS) are looked at.
 */
export async function repliesTo(
  db: Db,
  tenantId: string,
  inbound: readonly Pick<MessageRow, "id" | "created_at">[],
): Promise<{ replyTo: string; kind: MessageRow["kind"] }[]> {
  if (inbound.length === 0) return [];
  const oldestMs = Math.min(...inbound.map((m) => Date.parse(m.created_at)));
  const sinceIso = Number.isFinite(oldestMs) ? isoAt(oldestMs - REPLY_CLOCK_SKEW_MS) : "";
  const rows = await db.all<{ reply_to: string | null; kind: MessageRow["kind"] }>(
    repliesToQuery(
      tenantId,
      inbound.map((m) => m.id),
      sinceIso,
    ),
  );
  return rows.flatMap((r) => (r.reply_to ? [{ replyTo: r.reply_to, kind: r.kind }] : []));
}

/**
 * Puts `processing` messages back to `queued` when their tenant's lease is free (NULL or expired)
 * or their claim belongs to an owner known to be dead: a run cut short is run again.
 * Returns how many messages were re-queued and the tenants they belong to (each once).
 */
export async function requeueAbandoned(
  db: Db,
  nowMs: number,
  deadOwners: readonly string[] = [],
): Promise<{ count: number; tenantIds: string[] }> {
  const now = isoAt(nowMs);
  const leaseFree = sql`NOT EXISTS (SELECT 1 FROM ${conversationSessions} s WHERE s.tenant_id = ${messages.tenant_id}
    AND s.lease_expires_at IS NOT NULL AND s.lease_expires_at > ${now})`;
  const ownerDead = deadOwners.length > 0 ? sql` OR ${messages.lease_owner} IN ${[...deadOwners]}` : sql``;
  const rows = await db
    .update(messages)
    .set({ status: "queued", lease_owner: null })
    .where(sql`${messages.direction} = 'in' AND ${messages.status} = 'processing' AND (${leaseFree}${ownerDead})`)
    .returning({ id: messages.id, tenantId: messages.tenant_id });
  const tenantIds = new Set(rows.flatMap((r) => (r.tenantId ? [r.tenantId] : [])));
  return { count: rows.length, tenantIds: [...tenantIds] };
}

/** Lease holders whose lease has not expired (to find dead processes on this host). */
export async function activeLeaseOwners(db: Db, nowMs: number): Promise<{ tenantId: string; owner: string }[]> {
  const rows = await db
    .select({ tenantId: conversationSessions.tenant_id, owner: conversationSessions.lease_owner })
    .from(conversationSessions)
    .where(
      sql`${conversationSessions.lease_owner} IS NOT NULL AND ${conversationSessions.lease_expires_at} > ${isoAt(nowMs)}`,
    );
  return rows.flatMap((r) => (r.owner ? [{ tenantId: r.tenantId, owner: r.owner }] : []));
}

/** Frees a lease held by a dead owner (conditional on that owner still holding it). */
export async function freeLeaseOf(db: Db, tenantId: string, owner: string, nowMs: number): Promise<void> {
  await db
    .update(conversationSessions)
    .set({ lease_owner: null, lease_expires_at: null, updated_at: isoAt(nowMs) })
    .where(and(eq(conversationSessions.tenant_id, tenantId), eq(conversationSessions.lease_owner, owner)));
}

/** Inbound messages by status (health and metrics): queued and processing counts. */
export async function queueCounts(db: Db): Promise<{ queued: number; processing: number }> {
  const rows = await db
    .select({ status: messages.status, n: sql<number>`count(*)` })
    .from(messages)
    .where(and(eq(messages.direction, "in"), inArray(messages.status, ["queued", "processing"])))
    .groupBy(messages.status);
  const count = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
  return { queued: count("queued"), processing: count("processing") };
}
