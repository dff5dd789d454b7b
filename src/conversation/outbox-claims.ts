import { and, eq, sql } from "drizzle-orm";
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
