// `proxystaff usage [tenant-id] [--month YYYY-MM] [--budget USD|none]` through scripts/usage.ts, as an operator runs it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getTenant } from "../../src/tenants/index.ts";
import { recordModelUsage } from "../../src/usage/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant } from "../helpers/index.ts";
import { runRepoFile } from "../scheduler/fixtures.ts";

let t: TestContext;
let tenantId: string;
const month = new Date().toISOString().slice(0, 7);

beforeAll(async () => {
  t = await createTestContext();
  tenantId = (await insertTenant(t.ctx, { name: "Bella Bakery" })).id;
  await insertTenant(t.ctx, { name: "Quiet Cafe" });
  const row = { model: "claude-sonnet-4-5", cacheCreationInputTokens: 0, cacheReadInputTokens: 2000, status: 200 };
  await recordModelUsage(t.ctx.db, {
    ...row,
    tenantId,
    runId: "r1",
    inputTokens: 12000,
    outputTokens: 300,
    costUsd: 0.0411,
    day: `${month}-01`,
  });
  await recordModelUsage(t.ctx.db, {
    ...row,
    tenantId,
    runId: "r2",
    inputTokens: 1000,
    outputTokens: 30,
    costUsd: 0.0035,
    day: `${month}-02`,
  });
});
afterAll(() => t.cleanup());

const run = (...args: string[]) => runRepoFile(t, "scripts/usage.ts", args);

describe("proxystaff usage", () => {
  test("every tenant's month as a table, costliest first, with a total", async () => {
    const r = await run("--month", month);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(`Model usage in ${month} (each tenant's local month)`);
    expect(lines[1]).toMatch(
      /^TENANT\s+ID\s+INPUT\s+OUTPUT\s+CACHE W\s+CACHE R\s+COST USD\s+REQUESTS\s+RUNS\s+BUDGET$/,
    );
    expect(lines[2]).toMatch(
      new RegExp(`^Bella Bakery\\s+${tenantId}\\s+13,000\\s+330\\s+0\\s+4,000\\s+0\\.0446\\s+2\\s+2\\s+none$`),
    );
    expect(lines[3]).toContain("Quiet Cafe");
    expect(lines[4]).toMatch(/^TOTAL\s+13,000\s+330\s+0\s+4,000\s+0\.0446\s+2\s+2$/);
  });

  test("one tenant per day; --budget sets and `none` clears it; --json", async () => {
    const set = await run(tenantId, "--budget", "0.04", "--month", month);
    expect(set.code).toBe(0);
    expect(set.stderr).toContain("monthly budget set to 0.04 USD");
    expect(set.stdout).toContain("Budget: 0.04 USD — REACHED");
    expect(set.stdout).toMatch(new RegExp(`${month}-01\\s+12,000\\s+300`));
    expect((await getTenant(t.ctx.db, tenantId))?.monthly_budget_usd).toBe(0.04);
    const json = await run(tenantId, "--json", "--month", month, "--budget", "none");
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { days: unknown[]; budget_usd: number | null; totals: { runs: number } };
    expect(report.days).toHaveLength(2);
    expect(report.budget_usd).toBeNull();
    expect(report.totals.runs).toBe(2);
  });

  test("a bad month or budget exits 2 with the usage; an unknown tenant exits 1", async () => {
    const bad = await run("--month", "2026-13");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("YYYY-MM");
    expect((await run(tenantId, "--budget", "-5")).code).toBe(2);
    expect((await run("--budget", "5")).code).toBe(2);
    expect((await run(crypto.randomUUID())).code).toBe(1);
  });
});
