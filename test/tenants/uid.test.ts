// Finding S1: each tenant's agent runs as a host uid of its own. Two tenants must never share one (a hash could
// collide); allocation is stored, unique, and safe when several callers (or processes) allocate at once.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { createTenant, TENANT_UID_BASE, tenantUid } from "../../src/tenants/index.ts";
import { createTestContext } from "../helpers/index.ts";

const BACKFILL = readFileSync(join(import.meta.dir, "..", "..", "drizzle", "0002_tenant_uid.sql"), "utf8")
  .split("--> statement-breakpoint")
  .at(-1)!;

describe.each(["bun-sqlite", "libsql"] as const)("tenant uids (%s)", (driver) => {
  test("each tenant gets its own uid from the range at creation; tenantUid reads it back", async () => {
    const t = await createTestContext({ driver });
    try {
      const a = await createTenant(t.ctx, { name: "A", phone: "+18015550101", channel: "telegram" });
      const b = await createTenant(t.ctx, { name: "B", phone: "+18015550102", channel: "telegram" });
      const [ua, ub] = [await tenantUid(t.ctx.db, a.id), await tenantUid(t.ctx.db, b.id)];
      expect(ua).toBe(TENANT_UID_BASE);
      expect(ub).toBe(TENANT_UID_BASE + 1);
      expect(await tenantUid(t.ctx.db, a.id)).toBe(ua);
    } finally {
      await t.cleanup();
    }
  });

  test("tenants without one (made by an older version) get distinct uids, lazily and concurrently; the migration's backfill too", async () => {
    const t = await createTestContext({ driver });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++)
        ids.push((await createTenant(t.ctx, { name: `T${i}`, phone: `+1801555020${i}`, channel: "telegram" })).id);
      await t.ctx.db.run(
        sql`UPDATE tenants SET uid = NULL WHERE id IN (${sql.join(
          ids.slice(0, 4).map((id) => sql`${id}`),
          sql`, `,
        )})`,
      );
      const lazy = await Promise.all(ids.slice(0, 4).map((id) => tenantUid(t.ctx.db, id)));
      const all = await Promise.all(ids.map((id) => tenantUid(t.ctx.db, id)));
      expect(new Set(all).size).toBe(6);
      expect(all.slice(0, 4)).toEqual(lazy);
      expect(Math.min(...all)).toBeGreaterThanOrEqual(TENANT_UID_BASE);

      await t.ctx.db.run(sql`UPDATE tenants SET uid = NULL`);
      await t.ctx.db.run(sql.raw(BACKFILL));
      const backfilled = await Promise.all(ids.map((id) => tenantUid(t.ctx.db, id)));
      expect([...backfilled].sort()).toEqual([0, 1, 2, 3, 4, 5].map((i) => TENANT_UID_BASE + i));
    } finally {
      await t.cleanup();
    }
  });
});
