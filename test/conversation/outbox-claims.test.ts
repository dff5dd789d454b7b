import { afterEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { isoAt } from "../../src/clock.ts";
import type { AppContext } from "../../src/context.ts";
import { claimNextQuery, nextDueQuery } from "../../src/conversation/outbox.ts";
import type { TestContext } from "../helpers/context.ts";
import { createTestContext } from "../helpers/context.ts";
import { ON_LIBSQL } from "../helpers/test-database.ts";

// The outbox's claim must cost what the pending replies cost (one outbox-index entry and one row
// each), never a walk through a chat's stored history: a per-row NOT EXISTS over messages_rate_idx
// made one claim 11.3 ms with 300 replies pending on a 1M-message database (BENCHMARKS.md, scale).
const HISTORY = 3_000;
const NOW_MS = Date.parse("2026-11-26T09:00:00.000Z");
const NOW = isoAt(NOW_MS);

let t: TestContext | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

interface Row {
  id: string;
  channel?: string;
  chat: string;
  nextAt?: string | null;
  leaseUntil?: string | null;
  status?: string;
}

async function insert(ctx: AppContext, rows: Row[]): Promise<void> {
  for (const r of rows) {
    await ctx.db.run(sql`INSERT INTO messages (id, direction, channel, chat_id, body, status, next_attempt_at, lease_owner, lease_expires_at, created_at)
      VALUES (${r.id}, 'out', ${r.channel ?? "telegram"}, ${r.chat}, ${r.id}, ${r.status ?? "pending"}, ${r.nextAt ?? NOW},
              ${r.leaseUntil ? "other" : null}, ${r.leaseUntil ?? null}, ${NOW})`);
  }
}

/** A long sent history in a few chats of both channels, then statistics (ANALYZE). */
async function seedHistory(ctx: AppContext): Promise<void> {
  await ctx.db.run(
    sql.raw(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${HISTORY})
      INSERT INTO messages (id, direction, channel, chat_id, body, status, created_at)
      SELECT 'h' || i, CASE WHEN i % 2 = 0 THEN 'in' ELSE 'out' END, CASE WHEN i % 3 = 0 THEN 'sms' ELSE 'telegram' END,
             'chat' || (i % 4), 'old', CASE WHEN i % 2 = 0 THEN 'done' ELSE 'sent' END, '2026-11-01T00:00:00.000Z' FROM n`),
  );
  // sqld refuses ANALYZE: a remote database has no statistics, the plan is the schema's.
  if (!ON_LIBSQL) await ctx.db.run(sql`ANALYZE`);
}

async function plan(ctx: AppContext, query: ReturnType<typeof sql>): Promise<string> {
  const rows = await ctx.db.all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${query}`);
  return rows.map((r) => r.detail).join(" | ");
}

async function claimIds(ctx: AppContext, nowMs: number, live: string[] = ["telegram"]): Promise<string | null> {
  const rows = await ctx.db.all<{ id: string }>(claimNextQuery("me", isoAt(nowMs), isoAt(nowMs + 60_000), live));
  return rows[0]?.id ?? null;
}

async function markSent(ctx: AppContext, id: string): Promise<void> {
  await ctx.db.run(
    sql`UPDATE messages SET status = 'sent', lease_owner = NULL, lease_expires_at = NULL WHERE id = ${id}`,
  );
}

describe.each(["bun-sqlite", "libsql"] as const)("outbox claim queries on %s", (driver) => {
  test("read the pending rows through messages_outbox_idx and the heads by rowid, never a chat's history", async () => {
    t = await createTestContext({ driver });
    await seedHistory(t.ctx);
    for (const live of [["telegram"], ["telegram", "sms"]]) {
      for (const query of [claimNextQuery("me", NOW, NOW, live), nextDueQuery(live)]) {
        const detail = await plan(t.ctx, query);
        expect(detail).toContain("SEARCH h USING INDEX messages_outbox_idx (direction=? AND status=?)");
        expect(detail).toContain("SEARCH m USING INTEGER PRIMARY KEY (rowid=?)");
        expect(detail).not.toContain("messages_rate_idx");
        expect(detail).not.toMatch(/SCAN (messages|m|h)\b/);
      }
    }
  });

  test("claims chat heads only, oldest first; skips leased, backed-off and off-channel heads; one claim per row", async () => {
    t = await createTestContext({ driver });
    await seedHistory(t.ctx);
    const later = isoAt(NOW_MS + 5_000);
    await insert(t.ctx, [
      { id: "a1", chat: "chatA", leaseUntil: isoAt(NOW_MS + 30_000) },
      { id: "b1", chat: "chatB", nextAt: later },
      { id: "s1", chat: "chatA", channel: "sms" },
      { id: "a2", chat: "chatA" },
      { id: "b2", chat: "chatB" },
      { id: "c1", chat: "chatC" },
      { id: "c2", chat: "chatC" },
    ]);
    // a1 is leased by another sender, b1 waits for its retry, s1's channel is off: only chat C's head.
    expect(await claimIds(t.ctx, NOW_MS)).toBe("c1");
    expect(await claimIds(t.ctx, NOW_MS)).toBeNull(); // c2 waits behind c1 (claimed, not sent)
    const [due] = await t.ctx.db.all<{ at: string }>(nextDueQuery(["telegram"]));
    expect(due?.at).toBe(later);
    await markSent(t.ctx, "c1");
    expect(await claimIds(t.ctx, NOW_MS)).toBe("c2");
    expect(await claimIds(t.ctx, NOW_MS + 5_000)).toBe("b1");
    expect(await claimIds(t.ctx, NOW_MS + 5_000)).toBeNull();
    // The other sender's lease expires: a1 is taken over (a2 still waits for it).
    expect(await claimIds(t.ctx, NOW_MS + 30_000)).toBe("a1");
    await markSent(t.ctx, "a1");
    expect(await claimIds(t.ctx, NOW_MS + 30_000)).toBe("a2");
    expect(await claimIds(t.ctx, NOW_MS + 30_000, ["telegram", "sms"])).toBe("s1");
    expect(await claimIds(t.ctx, NOW_MS + 30_000, ["telegram", "sms"])).toBeNull();
  });
});
