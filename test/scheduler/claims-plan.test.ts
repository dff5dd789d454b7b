import { afterEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { isoAt } from "../../src/clock.ts";
import { claimDueTasks, earliestNextRunAt, findStaleClaims, staleClaimIdsQuery } from "../../src/scheduler/claims.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant, ON_LIBSQL } from "../helpers/index.ts";

// The scheduler's idle pass (stale claims, due claims, the earliest slot) must cost what the RUNNING and
// DUE rows cost, not the whole table — also once the table has statistics (an operator ran ANALYZE or
// PRAGMA optimize), which make SQLite read `status = 'RUNNING'` as "most rows" and prefer a full scan.
const PENDING = 5_000;
const NOW_MS = Date.parse("2026-11-26T09:00:00.000Z");

let t: TestContext | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

/**
 * Many PENDING tasks due in the future, statistics taken (ANALYZE, while nothing runs: the usual idle
 * moment), then RUNNING tasks claimed at the given times (ms).
 */
async function seed(ctx: TestContext["ctx"], claimedAtMs: number[]): Promise<string[]> {
  const tenantId = (await insertTenant(ctx)).id;
  await ctx.db.run(
    sql.raw(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${PENDING})
      INSERT INTO scheduled_tasks (id, tenant_id, prompt, cron, timezone, next_run_at, status, created_by, created_at, updated_at)
      SELECT lower(hex(randomblob(16))), '${tenantId}', 'p' || i, '0 9 * * *', 'UTC',
             '2026-11-27T' || printf('%02d', i % 24) || ':00:00.000Z', 'PENDING', 'admin', '${isoAt(NOW_MS)}', '${isoAt(NOW_MS)}' FROM n`),
  );
  // sqld refuses ANALYZE (and PRAGMA optimize): a remote database has no statistics, the plan is the schema's.
  if (!ON_LIBSQL) await ctx.db.run(sql`ANALYZE`);
  const ids: string[] = [];
  for (const ms of claimedAtMs) {
    const id = crypto.randomUUID();
    ids.push(id);
    await ctx.db.run(sql`INSERT INTO scheduled_tasks (id, tenant_id, prompt, timezone, next_run_at, status, created_by, created_at, updated_at, claimed_at, slot_at)
      VALUES (${id}, ${tenantId}, 'running', 'UTC', ${isoAt(ms)}, 'RUNNING', 'admin', ${isoAt(ms)}, ${isoAt(ms)}, ${isoAt(ms)}, ${isoAt(ms)})`);
  }
  return ids;
}

async function plan(ctx: TestContext["ctx"], query: ReturnType<typeof sql>): Promise<string> {
  const rows = await ctx.db.all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${query}`);
  return rows.map((r) => r.detail).join(" | ");
}

describe.each(["bun-sqlite", "libsql"] as const)("scheduler queries on %s", (driver) => {
  test("stale claims are found through the due index even after ANALYZE; oldest first, limited, fresh ones kept", async () => {
    t = await createTestContext({ driver });
    const ttlMs = 300_000;
    const [oldest, older, fresh] = await seed(t.ctx, [NOW_MS - 3_600_000, NOW_MS - 600_000, NOW_MS - 1_000]);

    const query = plan(t.ctx, staleClaimIdsQuery(isoAt(NOW_MS - ttlMs), 100));
    expect(await query).toContain("USING INDEX scheduled_tasks_due_idx");
    expect(await query).not.toMatch(/SCAN scheduled_tasks(?! USING)/);

    const stale = await findStaleClaims(t.ctx.db, NOW_MS, ttlMs, 100);
    expect(stale.map((r) => r.id)).toEqual([oldest!, older!]);
    expect(stale.every((r) => r.status === "RUNNING" && typeof r.paused === "boolean")).toBe(true);
    expect((await findStaleClaims(t.ctx.db, NOW_MS, ttlMs, 1)).map((r) => r.id)).toEqual([oldest!]);
    expect((await findStaleClaims(t.ctx.db, NOW_MS, 7_200_000, 100)).map((r) => r.id)).toEqual([]);
    expect(fresh).toBeDefined();
  });

  test("with nothing due, the claim and the earliest-slot lookups touch no PENDING row beyond the first", async () => {
    t = await createTestContext({ driver });
    await seed(t.ctx, []);
    expect(await claimDueTasks(t.ctx.db, NOW_MS, 100)).toEqual([]);
    expect(await earliestNextRunAt(t.ctx.db)).toBe("2026-11-27T00:00:00.000Z");
    const earliest = await plan(
      t.ctx,
      sql`SELECT next_run_at FROM scheduled_tasks WHERE status = 'PENDING' AND next_run_at IS NOT NULL AND paused = 0 ORDER BY next_run_at LIMIT 1`,
    );
    expect(earliest).toContain("USING INDEX scheduled_tasks_due_idx");
  });
});
