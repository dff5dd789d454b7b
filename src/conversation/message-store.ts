import type { SQL } from "drizzle-orm";
import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { Db, MessageRow } from "../db/index.ts";
import { messages } from "../db/schema.ts";

/**
 * Where a page of messages starts: rows older than this point, newest first. With `id`, rows created
 * at `createdAt` that were stored before that row are included too (a split reply stores every
 * chunk with one created_at, so a time alone would skip the rest of them); without it, only rows
 * created strictly before `createdAt`.
 */
export interface MessageCursor {
  /** ISO-8601 UTC time, as in `messages.created_at`. */
  createdAt: string;
  /** The last row of the previous page (`messages.id`); absent for a plain time. */
  id?: string;
}

/** Which messages listMessages returns. */
export interface ListMessagesOptions {
  /** Only this tenant's messages (default: every tenant's, including unknown chats). */
  tenantId?: string;
  /** At most this many rows. */
  limit: number;
  /** Only messages older than this point (paging: pass `messageCursor(lastRow)` parsed, or a plain time). */
  before?: MessageCursor;
}

/** The opaque paging cursor of a row: `"<created_at>|<id>"`, as handed out in `next_before`. */
export function messageCursor(row: Pick<MessageRow, "created_at" | "id">): string {
  return `${row.created_at}|${row.id}`;
}

/**
 * Reads a `before` value: a cursor from `messageCursor` (`"<created_at>|<id>"`), or a plain
 * ISO-8601 time (any offset; normalised to UTC) for operators paging by hand. Null when it is neither.
 */
export function parseMessageCursor(text: string): MessageCursor | null {
  const bar = text.lastIndexOf("|");
  const timeText = bar === -1 ? text : text.slice(0, bar);
  const id = bar === -1 ? undefined : text.slice(bar + 1);
  if (id !== undefined && !/^[\w.:-]{1,200}$/.test(id)) return null;
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(timeText)) return null;
  const ms = Date.parse(timeText);
  if (Number.isNaN(ms)) return null;
  // Stored times are all `toISOString()` text, so the normalised form compares (and `=` matches) exactly.
  const createdAt = new Date(ms).toISOString();
  return id === undefined ? { createdAt } : { createdAt, id };
}

/** The rows older than the cursor, in the listing's order (created_at, then storage order). */
function olderThan(cursor: MessageCursor): SQL {
  if (cursor.id === undefined) return lt(messages.created_at, cursor.createdAt);
  // Ties on created_at are ordered by rowid (storage order, so a split reply's chunks stay in order);
  // `<=` first keeps the tenant/created_at index usable for the range.
  return sql`${messages.created_at} <= ${cursor.createdAt} AND (${messages.created_at} < ${cursor.createdAt}
    OR rowid < coalesce((SELECT m.rowid FROM messages m WHERE m.id = ${cursor.id}), 0))`;
}

/** Messages in both directions, newest first (the runbook's "check tenant messages" query). */
export async function listMessages(db: Db, options: ListMessagesOptions): Promise<MessageRow[]> {
  const conditions: SQL[] = [];
  if (options.tenantId !== undefined) conditions.push(eq(messages.tenant_id, options.tenantId));
  if (options.before !== undefined) conditions.push(olderThan(options.before));
  return db
    .select()
    .from(messages)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(messages.created_at), sql`rowid DESC`)
    .limit(options.limit);
}

/** One page of listMessages plus the cursor of the next (older) page: null when this page was the last. */
export async function listMessagePage(
  db: Db,
  options: ListMessagesOptions,
): Promise<{ messages: MessageRow[]; nextBefore: string | null }> {
  const rows = await listMessages(db, options);
  const last = rows.length === options.limit ? rows[rows.length - 1] : undefined;
  return { messages: rows, nextBefore: last ? messageCursor(last) : null };
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
