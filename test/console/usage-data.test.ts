import { describe, expect, test } from "bun:test";
import { loadUsage, usageCsv } from "../../src/console/usage-data.ts";
import { recordModelUsage } from "../../src/usage/index.ts";
import { insertTenant, useTestContext } from "../helpers/index.ts";
import { seedFour } from "./seed.ts";

const t = useTestContext();

describe("loadUsage", () => {
  test("per tenant for one month (not the month before), sortable, with totals", async () => {
    const { alpine, cedar } = await seedFour(t);
    const report = await loadUsage(t.ctx.db, "2026-11", "cost", "desc");
    expect(report.rows.map((r) => [r.tenantId, r.tenantName, r.costUsd, r.requests])).toEqual([
      [cedar.id, "Cedar Garage", 9, 1],
      [alpine.id, "Alpine Bakery", 1.5, 1],
    ]);
    expect(report.totals).toMatchObject({ costUsd: 10.5, requests: 2, inputTokens: 200 });
    expect((await loadUsage(t.ctx.db, "2026-11", "name", "asc")).rows[0]?.tenantName).toBe("Alpine Bakery");
    expect((await loadUsage(t.ctx.db, "2026-10", "cost", "desc")).rows.map((r) => r.costUsd)).toEqual([50]);
    expect((await loadUsage(t.ctx.db, "2026-12", "cost", "desc")).rows).toEqual([]);
  });

  test("CSV: a header, one line per tenant, quoting, and no formula injection from a tenant's name", async () => {
    const tenant = await insertTenant(t.ctx, { name: '=HYPERLINK("http://x", "a,b")' });
    await recordModelUsage(t.ctx.db, {
      tenantId: tenant.id,
      runId: "r",
      model: "m",
      inputTokens: 1,
      outputTokens: 2,
      cacheCreationInputTokens: 3,
      cacheReadInputTokens: 4,
      costUsd: 0.25,
      status: 200,
      day: "2026-11-02",
    });
    const csv = usageCsv(await loadUsage(t.ctx.db, "2026-11", "cost", "desc"));
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "month,tenant_id,tenant_name,requests,runs,input_tokens,output_tokens,cache_creation_input_tokens,cache_read_input_tokens,cost_usd",
    );
    expect(lines[1]).toBe(`2026-11,${tenant.id},"'=HYPERLINK(""http://x"", ""a,b"")",1,1,1,2,3,4,0.2500`);
  });
});
