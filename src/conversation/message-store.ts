import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import type { Db, MessageRow } from "../db/index.ts";
import { messages } from "../db/schema.ts";

/** Which messages listMessages returns. */
export interface ListMessagesOptions {
  /** Only this tenant's messages (default: every tenant's, including unknown chats). */
  tenantId?: string;
  /** At most this many rows. */
  limit: number;
  /** Only messages created strictly before this ISO-8601 timestamp (paging: pass the last row's created_at). */
  before?: string;
}

/** Messages in both directions, newest first (the runbook's "check tenant messages" query). */
export async function listMessages(db: Db, options: ListMessagesOptions): Promise<MessageRow[]> {
  const conditions: SQL[] = [];
  if (options.tenantId !== undefined) conditions.push(eq(messages.tenant_id, options.tenantId));
  if (options.before !== undefined) conditions.push(lt(messages.created_at, options.before));
  return db
    .select()
    .from(messages)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(messages.created_at), sql`rowid DESC`)
    .limit(options.limit);
}

/** Fields of a new inbound row (id and timestamps are the caller's: ids are UUIDs, times ISO). */
export type NewInboundMessage = Omit<typeof messages.$inferInsert, "direction">;

/**
 * Stores an inbound message unless (channel, external_id) is already stored: the unique index
 * decides, so two concurrent deliveries of one update store it once. Returns false for a duplicate.
 */
export async function insertInbound(db: Db, row: NewInboundMessage): Promise<boolean> {
  const inserted = await db
    .insert(messages)
    .values({ ...row, direction: "in" })
    .onConflictDoNothing()
    .returning({ id: messages.id });
  return inserted.length > 0;
}

/** True when an inbound message with this (channel, external_id) is already stored. */
export async function isDuplicate(db: Db, channel: MessageRow["channel"], externalId: string): Promise<boolean> {
  const rows = await db
    .select({ id: messages.id })
    .from(messages)
    .where(and(eq(messages.direction, "in"), eq(messages.channel, channel), eq(messages.external_id, externalId)))
    .limit(1);
  return rows.length > 0;
}

/** Who a rate-limit window counts: a known tenant (its phone number, across channels) or one chat. */
export type RateSubject = { tenantId: string } | { channel: MessageRow["channel"]; chatId: string };

function subjectCondition(subject: RateSubject): SQL {
  return "tenantId" in subject
    ? sql`${messages.tenant_id} = ${subject.tenantId}`
    : sql`${messages.channel} = ${subject.channel} AND ${messages.chat_id} = ${subject.chatId}`;
}

/**
 * Counts the subject's inbound messages (chat turns and commands, not scheduled tasks) since
 * `sinceIso`: those that counted against the limit (anything not refused for the limit itself),
 * and those refused for the limit. Read from the table, so every process agrees.
 */
export async function countRecentInbound(
  db: Db,
  subject: RateSubject,
  sinceIso: string,
): Promise<{ counted: number; rateLimited: number }> {
  const rows = await db
    .select({
      counted: sql<number>`coalesce(sum(CASE WHEN ${messages.error} IS NOT 'rate_limited' THEN 1 ELSE 0 END), 0)`,
      rateLimited: sql<number>`coalesce(sum(CASE WHEN ${messages.error} = 'rate_limited' THEN 1 ELSE 0 END), 0)`,
    })
    .from(messages)
    .where(
      sql`${messages.direction} = 'in' AND ${messages.kind} IN ('chat', 'command') AND ${messages.created_at} > ${sinceIso} AND ${subjectCondition(subject)}`,
    );
  const row = rows[0];
  return { counted: Number(row?.counted ?? 0), rateLimited: Number(row?.rateLimited ?? 0) };
}
