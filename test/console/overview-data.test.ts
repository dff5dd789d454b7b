import { describe, expect, test } from "bun:test";
import { loadOverview, overviewQuerySchema } from "../../src/console/overview-data.ts";
import { insertTenant, useTestContext } from "../helpers/index.ts";
import { NOW_MS, seedFour } from "./seed.ts";

const t = useTestContext();
const options = { nowMs: NOW_MS, month: "2026-11", defaultBudgetUsd: null, isCreditLow: false };
const query = (q: Record<string, string> = {}) => overviewQuerySchema.parse(q);

describe("loadOverview", () => {
  test("each tenant's figures: linked, last message, queue, failures in 24 h, spend this month against budget", async () => {
    const { alpine, birch, cedar, dune } = await seedFour(t);
    const page = await loadOverview(t.ctx.db, query(), options);
    expect(page.total).toBe(4);
    expect(page.rows.map((r) => r.name)).toEqual(["Alpine Bakery", "Birch Dental", "Cedar Garage", "Dune Surf"]);
    const byId = new Map(page.rows.map((r) => [r.id, r]));
    expect(byId.get(alpine.id)).toMatchObject({
      stage: "LIVE",
      isLinked: true,
      queued: 0,
      failures24h: 0,
      spendUsd: 1.5,
      budgetUsd: null,
      attention: [],
      lastMessageAt: new Date(NOW_MS - 4 * 60_000).toISOString(),
    });
    expect(byId.get(birch.id)).toMatchObject({ isLinked: false, lastMessageAt: null, attention: ["unlinked"] });
    expect(byId.get(cedar.id)).toMatchObject({ failures24h: 1, spendUsd: 9, budgetUsd: 10 });
    expect(byId.get(cedar.id)?.attention).toEqual(["failures", "budget"]);
    expect(byId.get(dune.id)).toMatchObject({ stage: "PAUSED", isLinked: true, processing: 1, attention: ["stuck"] });
    expect(page.attentionTotal).toBe(3);
  });

  test("the default budget applies where a tenant has none; credit low flags every active tenant", async () => {
    const { alpine } = await seedFour(t);
    const page = await loadOverview(t.ctx.db, query(), { ...options, defaultBudgetUsd: 1.8, isCreditLow: true });
    const row = page.rows.find((r) => r.id === alpine.id);
    expect(row?.budgetUsd).toBe(1.8);
    expect(row?.attention).toEqual(["budget", "credit_low"]);
    expect(page.attentionTotal).toBe(4);
  });

  test("needs-attention filter, search (name, phone, id; LIKE wildcards are literal) and sorting", async () => {
    const { alpine, cedar } = await seedFour(t);
    const attention = await loadOverview(t.ctx.db, query({ attention: "1" }), options);
    expect(attention.rows.map((r) => r.name)).toEqual(["Birch Dental", "Cedar Garage", "Dune Surf"]);
    expect(attention.matching).toBe(3);
    expect(attention.total).toBe(4);

    expect((await loadOverview(t.ctx.db, query({ q: "cedar" }), options)).rows.map((r) => r.id)).toEqual([cedar.id]);
    expect((await loadOverview(t.ctx.db, query({ q: "8015550101" }), options)).rows.map((r) => r.id)).toEqual([
      alpine.id,
    ]);
    expect((await loadOverview(t.ctx.db, query({ q: alpine.id.slice(0, 8) }), options)).rows[0]?.id).toBe(alpine.id);
    expect((await loadOverview(t.ctx.db, query({ q: "%" }), options)).rows).toEqual([]);

    const bySpend = await loadOverview(t.ctx.db, query({ sort: "spend", dir: "desc" }), options);
    expect(bySpend.rows.map((r) => r.name).slice(0, 2)).toEqual(["Cedar Garage", "Alpine Bakery"]);
    const byLast = await loadOverview(t.ctx.db, query({ sort: "last_message", dir: "desc" }), options);
    expect(byLast.rows.map((r) => r.name)).toEqual(["Alpine Bakery", "Dune Surf", "Cedar Garage", "Birch Dental"]);
    expect(byLast.rows[0]?.lastMessageAt).toBe(new Date(NOW_MS - 4 * 60_000).toISOString());
    const byFailures = await loadOverview(t.ctx.db, query({ sort: "failures", dir: "desc" }), options);
    expect(byFailures.rows[0]?.name).toBe("Cedar Garage");
  });

  test("pages server-side; a bad query string falls back to the defaults", async () => {
    for (let i = 0; i < 7; i++) await insertTenant(t.ctx, { name: `Shop ${i}` });
    const second = await loadOverview(t.ctx.db, query({ page: "2" }), { ...options, pageSize: 3 });
    expect(second.rows.map((r) => r.name)).toEqual(["Shop 3", "Shop 4", "Shop 5"]);
    expect(second.matching).toBe(7);
    const past = await loadOverview(t.ctx.db, query({ page: "9" }), { ...options, pageSize: 3 });
    expect(past.rows).toEqual([]);
    expect(past.matching).toBe(7);
    expect(query({ sort: "1; DROP TABLE tenants", dir: "sideways", page: "-3" })).toMatchObject({
      sort: "name",
      dir: "asc",
      page: 1,
    });
  });

  test("no tenants: an empty page that says so", async () => {
    const page = await loadOverview(t.ctx.db, query(), options);
    expect(page).toMatchObject({ rows: [], total: 0, matching: 0 });
  });
});
