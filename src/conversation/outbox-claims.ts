import { and, eq, sql } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { Db } from "../db/index.ts";
import { schema } from "../db/index.ts";

const { messages } = schema;

/**
 * Frees pending replies still claimed by senders that `isOwnerDead` says are gone (a process on
 * this host killed mid-send), so a restart sends them at once instead of after the claim lease.
 * Each UPDATE is conditional on that owner still holding the row. Returns the freed rows per owner.
 */
export async function freeDeadClaims(
  db: Db,
  nowMs: number,
  isOwnerDead: (owner: string) => boolean,
): Promise<{ owner: string; count: number }[]> {
  const holders = await db.all<{ owner: string }>(sql`
    SELECT DISTINCT lease_owner AS owner FROM messages
    WHERE direction = 'out' AND status = 'pending' AND lease_owner IS NOT NULL AND lease_expires_at > ${isoAt(nowMs)}`);
  const freed: { owner: string; count: number }[] = [];
  for (const { owner } of holders) {
    if (!isOwnerDead(owner)) continue;
    const rows = await db
      .update(messages)
      .set({ lease_owner: null, lease_expires_at: null })
      .where(and(eq(messages.direction, "out"), eq(messages.status, "pending"), eq(messages.lease_owner, owner)))
      .returning({ id: messages.id });
    if (rows.length > 0) freed.push({ owner, count: rows.length });
  }
  return freed;
}

/**
 * The row ids of every chat's head: its oldest pending reply (by rowid) on one of `liveChannels`.
 * Only a head may be sent; the rows behind it wait for it (per-chat order). The pending rows are read
 * once through messages_outbox_idx and grouped, so the cost grows with the pending rows alone (one
 * index entry and one row lookup each), not with any chat's history as a per-row `NOT EXISTS` over
 * messages_rate_idx did (that was quadratic: every pending row walked its chat's stored messages).
 * INDEXED BY and `+h.channel` keep it so once the table has statistics (ANALYZE / PRAGMA optimize):
 * SQLite then may prefer walking messages_rate_idx whole to skip the GROUP BY's sort.
 */
function chatHeadRowids(liveChannels: readonly string[]): SQL {
  const names = sql.join(liveChannels.map((name) => sql`${name}`), sql`, `);
  return sql`SELECT min(h.rowid) FROM messages h INDEXED BY messages_outbox_idx
    WHERE h.direction = 'out' AND h.status = 'pending' AND +h.channel IN (${names})
    GROUP BY h.channel, h.chat_id`;
}

/**
 * One conditional UPDATE claiming the oldest due, unleased chat head on a live channel for `owner`
 * until `leaseUntil`; RETURNING the claimed row (none when nothing is due). The outer conditions are
 * checked again on the row itself, so two senders on one database never both get it.
 * `liveChannels` must not be empty.
 */
export function claimNextQuery(owner: string, now: string, leaseUntil: string, liveChannels: readonly string[]): SQL {
  return sql`
    UPDATE messages SET lease_owner = ${owner}, lease_expires_at = ${leaseUntil}, attempts = attempts + 1
    WHERE id = (
      SELECT m.id FROM messages m
      WHERE m.rowid IN (${chatHeadRowids(liveChannels)})
        AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= ${now})
        AND (m.lease_expires_at IS NULL OR m.lease_expires_at <= ${now})
      ORDER BY m.rowid LIMIT 1)
    AND direction = 'out' AND status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= ${now})
    RETURNING id, channel, chat_id, body, attempts, reply_keyboard`;
}

/**
 * The earliest time (ISO) a chat head on a live channel becomes claimable: its retry time, or its
 * lease expiry when that is later; NULL when nothing is pending. `liveChannels` must not be empty.
 */
export function nextDueQuery(liveChannels: readonly string[]): SQL {
  return sql`
    SELECT MIN(CASE WHEN m.lease_expires_at IS NOT NULL AND m.lease_expires_at > COALESCE(m.next_attempt_at, '')
                    THEN m.lease_expires_at ELSE m.next_attempt_at END) AS at
    FROM messages m
    WHERE m.rowid IN (${chatHeadRowids(liveChannels)})`;
}
