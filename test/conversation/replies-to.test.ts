import { afterEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { isoAt } from "../../src/clock.ts";
import type { AppContext } from "../../src/context.ts";
import { REPLY_CLOCK_SKEW_MS, repliesTo, repliesToQuery } from "../../src/conversation/queue-store.ts";
import { messages } from "../../src/db/schema.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant, ON_LIBSQL } from "../helpers/index.ts";

// repliesTo runs at the start of every agent run: it must cost what the tenant's recent rows cost,
// not a walk over every outbound row (reply_to has no index), also once the table has statistics.
const OTHER_REPLIES = 5_000;
const TENANTS = 40;
const NOW_MS = Date.parse("2026-11-26T09:00:00.000Z");

let t: TestContext | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

async function insertMessage(
  ctx: AppContext,
  fields: Partial<typeof messages.$inferInsert> & { tenant_id: string },
): Promise<string> {
  const id = fields.id ?? crypto.randomUUID();
  await ctx.db.insert(messages).values({
    direction: "in",
    channel: "telegram",
    chat_id: "42",
    body: "hi",
    status: "processing",
    created_at: isoAt(NOW_MS),
    ...fields,
    id,
  });
  return id;
}

describe.each(["bun-sqlite", "libsql"] as const)("repliesTo on %s", (driver) => {
  test("finds the stored replies of the claimed messages through the tenant index (after ANALYZE)", async () => {
    t = await createTestContext({ driver, clock: new FakeClock() });
    const ctx = t.ctx;
    const tenant = await insertTenant(ctx, { phone_number: "+18015550000" });
    const others = [];
    for (let i = 1; i <= TENANTS; i++)
      others.push(await insertTenant(ctx, { phone_number: `+1801555${String(i).padStart(4, "0")}` }));
    const other = others[0]!;
    // Replies of every tenant (this one's too), all older than the batch.
    const ids = JSON.stringify([tenant, ...others].map((x) => x.id));
    await ctx.db.run(
      sql.raw(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${OTHER_REPLIES}),
        ids(tenant_id, k) AS (SELECT value, key FROM json_each('${ids}'))
        INSERT INTO messages (id, tenant_id, direction, channel, chat_id, body, status, reply_to, created_at)
        SELECT lower(hex(randomblob(16))), ids.tenant_id, 'out', 'telegram', '7', 'r' || i, 'sent', lower(hex(randomblob(16))),
               '${isoAt(NOW_MS - 86_400_000)}' FROM n JOIN ids ON ids.k = n.i % ${TENANTS + 1}`),
    );
    // sqld refuses ANALYZE: a remote database has no statistics, the plan is the schema's.
    if (!ON_LIBSQL) await ctx.db.run(sql`ANALYZE`);

    const first = await insertMessage(ctx, { tenant_id: tenant.id, created_at: isoAt(NOW_MS) });
    const second = await insertMessage(ctx, { tenant_id: tenant.id, created_at: isoAt(NOW_MS + 1000) });
    const third = await insertMessage(ctx, { tenant_id: tenant.id, created_at: isoAt(NOW_MS + 2000) });
    // A reply stored by a process whose clock runs a little behind, and one to the second message.
    await insertMessage(ctx, {
      tenant_id: tenant.id,
      direction: "out",
      status: "sent",
      kind: "chat",
      reply_to: first,
      created_at: isoAt(NOW_MS - 60_000),
    });
    await insertMessage(ctx, {
      tenant_id: tenant.id,
      direction: "out",
      status: "pending",
      kind: "system",
      reply_to: second,
      created_at: isoAt(NOW_MS + 5000),
    });
    // Far older than any clock skew: not this batch's reply (and never looked at).
    await insertMessage(ctx, {
      tenant_id: tenant.id,
      direction: "out",
      status: "sent",
      reply_to: third,
      created_at: isoAt(NOW_MS - REPLY_CLOCK_SKEW_MS - 60_000),
    });

    const batch = [first, second, third].map((id, i) => ({ id, created_at: isoAt(NOW_MS + i * 1000) }));
    const found = await repliesTo(ctx.db, tenant.id, batch);
    expect(found.sort((a, b) => a.replyTo.localeCompare(b.replyTo))).toEqual(
      [
        { replyTo: first, kind: "chat" as const },
        { replyTo: second, kind: "system" as const },
      ].sort((a, b) => a.replyTo.localeCompare(b.replyTo)),
    );
    expect(await repliesTo(ctx.db, other.id, batch)).toEqual([]);
    expect(await repliesTo(ctx.db, tenant.id, [])).toEqual([]);

    const plan = await ctx.db.all<{ detail: string }>(
      sql`EXPLAIN QUERY PLAN ${repliesToQuery(tenant.id, [first, second], isoAt(NOW_MS))}`,
    );
    const detail = plan.map((r) => r.detail).join(" | ");
    expect(detail).toMatch(/USING INDEX messages_tenant_(created|status)_idx \(tenant_id=/);
    expect(detail).not.toMatch(/SCAN messages(?! USING)/);
  });
});
