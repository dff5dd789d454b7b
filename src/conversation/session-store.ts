import { eq, sql } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { Db } from "../db/index.ts";
import { conversationSessions } from "../db/schema.ts";

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

/**
 * Forgets the tenant's agent session (the next message starts a fresh CLI session) and frees its
 * lease. A run still in flight notices it lost the lease and does not store its session id.
 * Returns false when the tenant had no session row (nothing to reset).
 */
export async function resetSession(db: Db, tenantId: string, nowMs: number = Date.now()): Promise<boolean> {
  const rows = await db
    .update(conversationSessions)
    .set({ agent_session_id: null, lease_owner: null, lease_expires_at: null, updated_at: isoAt(nowMs) })
    .where(eq(conversationSessions.tenant_id, tenantId))
    .returning({ tenant_id: conversationSessions.tenant_id });
  return rows.length > 0;
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
  const now = isoAt(nowMs);
  const expires = isoAt(nowMs + ttlMs);
  const rows = await db
    .insert(conversationSessions)
    .values({ tenant_id: tenantId, lease_owner: owner, lease_expires_at: expires, updated_at: now })
    .onConflictDoUpdate({
      target: conversationSessions.tenant_id,
      set: { lease_owner: owner, lease_expires_at: expires, updated_at: now },
      setWhere: sql`${conversationSessions.lease_expires_at} IS NULL OR ${conversationSessions.lease_expires_at} <= ${now}`,
    })
    .returning({ agent_session_id: conversationSessions.agent_session_id });
  const row = rows[0];
  return row ? { sessionId: row.agent_session_id } : undefined;
}

/** Extends the lease if `owner` still holds it; false means it was lost (reset, freed by an operator, expired and taken). */
export async function renewLease(db: Db, tenantId: string, owner: string, nowMs: number, ttlMs: number): Promise<boolean> {
  const rows = await db
    .update(conversationSessions)
    .set({ lease_expires_at: isoAt(nowMs + ttlMs), updated_at: isoAt(nowMs) })
    .where(
      sql`${conversationSessions.tenant_id} = ${tenantId} AND ${conversationSessions.lease_owner} = ${owner}
        AND ${conversationSessions.lease_expires_at} IS NOT NULL`,
    )
    .returning({ tenant_id: conversationSessions.tenant_id });
  return rows.length > 0;
}

/** Stores the CLI session id of a finished run, only while `owner` still holds the lease. */
export async function saveSessionId(db: Db, tenantId: string, owner: string, sessionId: string, nowMs: number): Promise<boolean> {
  const rows = await db
    .update(conversationSessions)
    .set({ agent_session_id: sessionId, updated_at: isoAt(nowMs) })
    .where(sql`${conversationSessions.tenant_id} = ${tenantId} AND ${conversationSessions.lease_owner} = ${owner}`)
    .returning({ tenant_id: conversationSessions.tenant_id });
  return rows.length > 0;
}

/** Frees the lease if `owner` holds it. */
export async function releaseLease(db: Db, tenantId: string, owner: string, nowMs: number): Promise<void> {
  await db
    .update(conversationSessions)
    .set({ lease_owner: null, lease_expires_at: null, updated_at: isoAt(nowMs) })
    .where(sql`${conversationSessions.tenant_id} = ${tenantId} AND ${conversationSessions.lease_owner} = ${owner}`);
}
