import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { and, eq, sql } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { Db } from "../db/index.ts";
import { preparedPerDatabase } from "../db/index.ts";
import { appState, conversationSessions } from "../db/schema.ts";

/** A tenant's agent session and who holds its lease (null fields: none / free). */
export interface SessionState {
  agent_session_id: string | null;
  lease_owner: string | null;
  /** ISO-8601 UTC; NULL or in the past means the lease is free. */
  lease_expires_at: string | null;
}

/** The tenant's session row, or null when the tenant never talked to its agent. */
export async function getSessionState(db: Db, tenantId: string): Promise<SessionState | null> {
  const rows = await db
    .select({
      agent_session_id: conversationSessions.agent_session_id,
      lease_owner: conversationSessions.lease_owner,
      lease_expires_at: conversationSessions.lease_expires_at,
    })
    .from(conversationSessions)
    .where(eq(conversationSessions.tenant_id, tenantId));
  return rows[0] ?? null;
}

/** app_state key of a tenant's reset mark: changed by every reset, so a run can tell one happened since it started. */
function resetMarkKey(tenantId: string): string {
  return `conversation.session_reset.${tenantId}`;
}

/** app_state key of a tenant's turn mark: the run id of the last turn whose session id was stored (any process). */
function turnMarkKey(tenantId: string): string {
  return `conversation.session_turn.${tenantId}`;
}

/** What a run starts from: the session to resume and the tenant's reset mark at that moment (one read). */
export interface SessionStart {
  sessionId: string | null;
  /** Compared when the run stores its session id: a reset meanwhile changes it (see resetAgentSession). */
  resetMark: string | null;
  /** The run id of the last turn that stored the session (a warm agent that did not run it is stale). */
  turnMark: string | null;
}

/** Reads the session to resume and the reset mark in one statement (a consistent pair). */
export async function readSessionStart(db: Db, tenantId: string): Promise<SessionStart> {
  const rows: { agent_session_id: string | null; reset_mark: string | null; turn_mark: string | null }[] =
    await leaseStatements(db).sessionStart.all({
      tenantId,
      resetKey: resetMarkKey(tenantId),
      turnKey: turnMarkKey(tenantId),
    });
  const row = rows[0];
  return {
    sessionId: row?.agent_session_id ?? null,
    resetMark: row?.reset_mark ?? null,
    turnMark: row?.turn_mark ?? null,
  };
}

/** How a reset treats a lease held by a run. */
export interface ResetOptions {
  /**
   * `if-dead` (default; the customer's /reset): the lease stays with a live run, which finishes its
   * batch but does not store its session id; only a lease held by a dead process on this host is freed.
   * `always`: free the lease whoever holds it (the operator's escape hatch for a stuck tenant, like
   * the runbook's `UPDATE … lease_expires_at = NULL`). A run still alive then loses its messages to
   * the next run: its dispatcher's next lease check (≤ 5 s) kills its agent and drops its result.
   */
  freeLease?: "if-dead" | "always";
  /** Whether a lease holder is certainly gone. Default: isGoneLocalOwner. */
  isOwnerDead?: (owner: string) => boolean;
}

/** What a reset did. */
export interface ResetOutcome {
  /** False when the tenant had no session row (nothing to reset). */
  reset: boolean;
  /** True when a held (unexpired) lease was freed. */
  leaseFreed: boolean;
  /** The holder of the unexpired lease at the reset (null: free), whether or not it was freed. */
  leaseOwner: string | null;
  /** Until when that lease runs unless renewed (ISO), or null. */
  leaseExpiresAt: string | null;
}

/**
 * Forgets the tenant's agent session: the next run starts a fresh CLI session. First it changes the
 * tenant's reset mark, so a run in flight never stores its session id afterwards (saveSessionId
 * compares the mark), then clears agent_session_id. The lease is freed per `options.freeLease`.
 */
export async function resetAgentSession(
  db: Db,
  tenantId: string,
  nowMs: number = Date.now(),
  options: ResetOptions = {},
): Promise<ResetOutcome> {
  const mark = `${isoAt(nowMs)} ${crypto.randomUUID()}`;
  await db
    .insert(appState)
    .values({ key: resetMarkKey(tenantId), value: mark, updated_at: isoAt(nowMs) })
    .onConflictDoUpdate({ target: appState.key, set: { value: mark, updated_at: isoAt(nowMs) } });
  const rows = await db
    .update(conversationSessions)
    .set({ agent_session_id: null, updated_at: isoAt(nowMs) })
    .where(eq(conversationSessions.tenant_id, tenantId))
    .returning({ owner: conversationSessions.lease_owner, expires: conversationSessions.lease_expires_at });
  const row = rows[0];
  if (!row) return { reset: false, leaseFreed: false, leaseOwner: null, leaseExpiresAt: null };
  const isHeld = row.owner !== null && row.expires !== null && row.expires > isoAt(nowMs);
  if (!isHeld && options.freeLease !== "always")
    return { reset: true, leaseFreed: false, leaseOwner: null, leaseExpiresAt: null };
  const owner = row.owner;
  if (owner === null) return { reset: true, leaseFreed: false, leaseOwner: null, leaseExpiresAt: null };
  const isDead = options.isOwnerDead ?? isGoneLocalOwner;
  const shouldFree = options.freeLease === "always" || isDead(owner);
  if (shouldFree) {
    await db
      .update(conversationSessions)
      .set({ lease_owner: null, lease_expires_at: null, updated_at: isoAt(nowMs) })
      .where(and(eq(conversationSessions.tenant_id, tenantId), eq(conversationSessions.lease_owner, owner)));
  }
  return {
    reset: true,
    leaseFreed: shouldFree && isHeld,
    leaseOwner: isHeld ? owner : null,
    leaseExpiresAt: isHeld ? row.expires : null,
  };
}

/**
 * The operator's reset (POST /admin/tenants/:id/reset-session): forgets the agent session and frees
 * the lease whoever holds it (resetAgentSession with freeLease "always"). Returns false when the
 * tenant had no session row. The customer's /reset uses resetAgentSession's default instead.
 */
export async function resetSession(db: Db, tenantId: string, nowMs: number = Date.now()): Promise<boolean> {
  return (await resetAgentSession(db, tenantId, nowMs, { freeLease: "always" })).reset;
}

/**
 * Takes the tenant's lease for `owner` with ONE statement (an upsert whose update only applies
 * when the lease is free: NULL or expired). Safe across processes sharing the database.
 * Returns the agent session id to resume (or null) when acquired, undefined when someone else holds it.
 */
export async function acquireLease(
  db: Db,
  tenantId: string,
  owner: string,
  nowMs: number,
  ttlMs: number,
): Promise<{ sessionId: string | null } | undefined> {
  const rows: { agent_session_id: string | null }[] = await leaseStatements(db).acquire.all({
    tenantId,
    owner,
    now: isoAt(nowMs),
    expires: isoAt(nowMs + ttlMs),
  });
  const row = rows[0];
  return row ? { sessionId: row.agent_session_id } : undefined;
}

/** Extends the lease if `owner` still holds it; false means it was lost (reset, freed by an operator, expired and taken). */
export async function renewLease(
  db: Db,
  tenantId: string,
  owner: string,
  nowMs: number,
  ttlMs: number,
): Promise<boolean> {
  const rows: unknown[] = await leaseStatements(db).renew.all({
    tenantId,
    owner,
    now: isoAt(nowMs),
    expires: isoAt(nowMs + ttlMs),
  });
  return rows.length > 0;
}

/**
 * Stores the CLI session id of a finished run, only while `owner` still holds the lease and no reset
 * happened since the run read `resetMarkAtStart` (readSessionStart): a /reset mid-run wins.
 */
export async function saveSessionId(
  db: Db,
  tenantId: string,
  owner: string,
  sessionId: string,
  nowMs: number,
  resetMarkAtStart: string | null,
  /** The turn's run id, stored as the tenant's turn mark when the session id was stored (see SessionStart). */
  turnMark?: string,
): Promise<boolean> {
  const statements = leaseStatements(db);
  const rows = await statements.saveSession.all({
    tenantId,
    owner,
    sessionId,
    now: isoAt(nowMs),
    resetKey: resetMarkKey(tenantId),
    resetMark: resetMarkAtStart,
  });
  if (rows.length > 0 && turnMark !== undefined) {
    await statements.putMark.run({ key: turnMarkKey(tenantId), value: turnMark, now: isoAt(nowMs) });
  }
  return rows.length > 0;
}

/** Frees the lease if `owner` holds it. */
export async function releaseLease(db: Db, tenantId: string, owner: string, nowMs: number): Promise<void> {
  await leaseStatements(db).release.run({ tenantId, owner, now: isoAt(nowMs) });
}

const p = sql.placeholder;

/** The statements every turn runs (see preparedPerDatabase). */
const leaseStatements = preparedPerDatabase((db) => ({
  acquire: db
    .insert(conversationSessions)
    .values({ tenant_id: p("tenantId"), lease_owner: p("owner"), lease_expires_at: p("expires"), updated_at: p("now") })
    .onConflictDoUpdate({
      target: conversationSessions.tenant_id,
      set: {
        lease_owner: sql`excluded.lease_owner`,
        lease_expires_at: sql`excluded.lease_expires_at`,
        updated_at: sql`excluded.updated_at`,
      },
      setWhere: sql`${conversationSessions.lease_expires_at} IS NULL OR ${conversationSessions.lease_expires_at} <= ${p("now")}`,
    })
    .returning({ agent_session_id: conversationSessions.agent_session_id })
    .prepare(),
  renew: db
    .update(conversationSessions)
    .set({ lease_expires_at: sql`${p("expires")}`, updated_at: sql`${p("now")}` })
    .where(
      sql`${conversationSessions.tenant_id} = ${p("tenantId")} AND ${conversationSessions.lease_owner} = ${p("owner")}
        AND ${conversationSessions.lease_expires_at} IS NOT NULL`,
    )
    .returning({ tenant_id: conversationSessions.tenant_id })
    .prepare(),
  release: db
    .update(conversationSessions)
    .set({ lease_owner: null, lease_expires_at: null, updated_at: sql`${p("now")}` })
    .where(
      sql`${conversationSessions.tenant_id} = ${p("tenantId")} AND ${conversationSessions.lease_owner} = ${p("owner")}`,
    )
    .prepare(),
  saveSession: db
    .update(conversationSessions)
    .set({ agent_session_id: sql`${p("sessionId")}`, updated_at: sql`${p("now")}` })
    .where(
      sql`${conversationSessions.tenant_id} = ${p("tenantId")} AND ${conversationSessions.lease_owner} = ${p("owner")}
        AND (SELECT a.value FROM ${appState} a WHERE a.key = ${p("resetKey")}) IS ${p("resetMark")}`,
    )
    .returning({ tenant_id: conversationSessions.tenant_id })
    .prepare(),
  putMark: db
    .insert(appState)
    .values({ key: p("key"), value: p("value"), updated_at: p("now") })
    .onConflictDoUpdate({
      target: appState.key,
      set: { value: sql`excluded.value`, updated_at: sql`excluded.updated_at` },
    })
    .prepare(),
  sessionStart: db
    .select({
      agent_session_id: sql<string | null>`s.agent_session_id`,
      reset_mark: sql<string | null>`(SELECT a.value FROM ${appState} a WHERE a.key = ${p("resetKey")})`,
      turn_mark: sql<string | null>`(SELECT t.value FROM ${appState} t WHERE t.key = ${p("turnKey")})`,
    })
    .from(sql`(SELECT 1) LEFT JOIN ${conversationSessions} s ON s.tenant_id = ${p("tenantId")}`)
    .prepare(),
}));

// Lease owners: who holds a lease (a process on some host), and whether that process is certainly gone.

/**
 * This process's lease owner id: "<host>:<pid>:<random>". Random per start, so a restarted process
 * never mistakes an old claim for its own; host and pid let it recognise claims of its own dead
 * previous life on the same machine (and free them at once instead of waiting for the lease TTL).
 */
export function newOwnerId(pid: number = process.pid, host: string = hostname()): string {
  return `${host}:${pid}:${randomBytes(6).toString("hex")}`;
}

let processOwner: string | undefined;

/**
 * One owner id for the whole process (made on first use): the outbox claims replies with it, so
 * several outboxes in one process never judge each other dead, while a restart sees its previous
 * life's claims as dead (same host, that pid gone or reused by itself).
 */
export function processOwnerId(): string {
  processOwner ??= newOwnerId();
  return processOwner;
}

/** A move-tenant run's lease owner: "move@" + an owner id of the process running it (see newMoveOwner). */
const MOVE_OWNER_PREFIX = "move@";
/** The move owners of moves running in this process right now. */
const liveMoveOwners = new Set<string>();

/**
 * A lease owner id for one move-tenant run in this process, live until `done()`. Its own kind of id: the
 * dispatcher in the same process must not take it for a previous life of itself (same host and pid), yet a
 * restart of the process — or another process on the host once its pid is gone — frees it at once.
 */
export function newMoveOwner(): { owner: string; done(): void } {
  const owner = `${MOVE_OWNER_PREFIX}${newOwnerId()}`;
  liveMoveOwners.add(owner);
  return { owner, done: () => void liveMoveOwners.delete(owner) };
}

/** "<host>:<pid>" of an owner id (a move owner's too); null for an id of another shape. */
function hostAndPid(owner: string): { host: string; pid: string; isMove: boolean } | null {
  const isMove = owner.startsWith(MOVE_OWNER_PREFIX);
  const [host, pid] = (isMove ? owner.slice(MOVE_OWNER_PREFIX.length) : owner).split(":");
  return host && pid && /^\d+$/.test(pid) ? { host, pid, isMove } : null;
}

/**
 * True when `owner` was a process on this host that is certainly gone: its pid is not running, or
 * its pid is ours (pids are unique among live processes, so that was a previous life) — for a move's
 * owner, unless that move is running here now. Owners on other hosts are never judged dead here: only
 * their lease expiry frees them.
 */
export function isDeadLocalOwner(
  owner: string,
  self: string,
  isPidAlive: (pid: number) => boolean = pidAlive,
): boolean {
  if (owner === self || liveMoveOwners.has(owner)) return false;
  const holder = hostAndPid(owner);
  const me = hostAndPid(self);
  if (!holder || !me || holder.host !== me.host) return false;
  if (holder.pid === me.pid) return true;
  return !isPidAlive(Number(holder.pid));
}

/**
 * True when `owner` was a process on this host, other than this one, whose pid is no longer running (or a
 * move's owner of this process that no longer runs). Without knowing this process's own owner ids, a
 * claim with our pid is never judged gone here.
 */
export function isGoneLocalOwner(owner: string, isPidAlive: (pid: number) => boolean = pidAlive): boolean {
  if (liveMoveOwners.has(owner)) return false;
  const holder = hostAndPid(owner);
  if (!holder || holder.host !== hostname()) return false;
  const pid = Number(holder.pid);
  if (pid === process.pid) return holder.isMove; // a move of ours that is not running: a previous life's
  return !isPidAlive(pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else; only ESRCH means gone.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
