// GET /admin/usage, GET /admin/tenants/:id/usage and the budget on PATCH /admin/tenants/:id.
import { expect, test } from "bun:test";
import { claimBudgetNotice, recordModelUsage } from "../../../src/usage/index.ts";
import { FakeClock } from "../../helpers/index.ts";
import { useAdminHarness } from "./setup.ts";

// 2027-01-01T03:00Z: still December in Denver.
const h = useAdminHarness({
  clock: new FakeClock(Date.parse("2027-01-01T03:00:00Z")),
  env: { TENANT_MONTHLY_BUDGET_USD: "20" },
});

const row = { model: "claude-sonnet-4-5", cacheCreationInputTokens: 0, cacheReadInputTokens: 0, status: 200 };

test("PATCH sets and clears monthly_budget_usd; bad values are 400", async () => {
  const tenant = await h.tenant();
  const set = await h.json<Record<string, unknown>>("PATCH", `/admin/tenants/${tenant.id}`, {
    monthly_budget_usd: 12.5,
  });
  expect(set.status).toBe(200);
  expect(set.body.monthly_budget_usd).toBe(12.5);
  const read = await h.json<Record<string, unknown>>("GET", `/admin/tenants/${tenant.id}`);
  expect(read.body.monthly_budget_usd).toBe(12.5);
  for (const bad of [-1, 0, "5", 1e9]) {
    const res = await h.call("PATCH", `/admin/tenants/${tenant.id}`, { monthly_budget_usd: bad });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_input");
  }
  const cleared = await h.json<Record<string, unknown>>("PATCH", `/admin/tenants/${tenant.id}`, {
    monthly_budget_usd: null,
  });
  expect(cleared.body.monthly_budget_usd).toBeNull();
});

test("GET /admin/usage: every tenant's tokens, cost, runs and budget for the month; GET …/usage per local day", async () => {
  const denver = await h.tenant({ timezone: "America/Denver" });
  const idle = await h.tenant();
  await h.call("PATCH", `/admin/tenants/${denver.id}`, { monthly_budget_usd: 1 });
  const db = h.t.ctx.db;
  await recordModelUsage(db, {
    ...row,
    tenantId: denver.id,
    runId: "r1",
    inputTokens: 100,
    outputTokens: 10,
    costUsd: 0.6,
    day: "2026-12-30",
  });
  await recordModelUsage(db, {
    ...row,
    tenantId: denver.id,
    runId: "r1",
    inputTokens: 50,
    outputTokens: 5,
    costUsd: 0.3,
    day: "2026-12-31",
  });
  await recordModelUsage(db, {
    ...row,
    tenantId: denver.id,
    runId: "r2",
    inputTokens: 1,
    outputTokens: 1,
    costUsd: 0.2,
    day: "2026-12-31",
  });
  await recordModelUsage(db, {
    ...row,
    tenantId: denver.id,
    runId: "r3",
    inputTokens: 9,
    outputTokens: 9,
    costUsd: 9,
    day: "2027-01-01",
  });
  await claimBudgetNotice(db, denver.id, "2026-12", 0);

  const all = await h.json<Record<string, any>>("GET", "/admin/usage?month=2026-12");
  expect(all.status).toBe(200);
  expect(all.body.month).toBe("2026-12");
  const line = all.body.tenants.find((t: { tenant_id: string }) => t.tenant_id === denver.id);
  expect(line).toMatchObject({
    input_tokens: 151,
    output_tokens: 16,
    cost_usd: 1.1,
    requests: 3,
    runs: 2,
    budget_usd: 1,
    budget_source: "tenant",
    is_over_budget: true,
    is_budget_reply_sent: true,
  });
  expect(all.body.tenants.find((t: { tenant_id: string }) => t.tenant_id === idle.id)).toMatchObject({
    cost_usd: 0,
    runs: 0,
    budget_usd: 20,
    budget_source: "default",
    is_over_budget: false,
  });
  expect(all.body.tenants[0].tenant_id).toBe(denver.id); // costliest first

  const one = await h.json<Record<string, any>>("GET", `/admin/tenants/${denver.id}/usage`);
  expect(one.status).toBe(200);
  expect(one.body.month).toBe("2026-12"); // the tenant's own current month
  expect(one.body.days.map((d: { day: string; cost_usd: number }) => [d.day, d.cost_usd])).toEqual([
    ["2026-12-30", 0.6],
    ["2026-12-31", 0.5],
  ]);
  expect(one.body.totals).toMatchObject({ runs: 2, requests: 3, cost_usd: 1.1 });
  const january = await h.json<Record<string, any>>("GET", `/admin/tenants/${denver.id}/usage?month=2027-01`);
  expect(january.body.totals.cost_usd).toBe(9);
  expect(january.body.is_budget_reply_sent).toBe(false);
});

test("a bad month is 400 naming the field; an unknown tenant 404", async () => {
  for (const month of ["2026-13", "2026-1", "december", "2026-12-01"]) {
    const res = await h.call("GET", `/admin/usage?month=${month}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("month");
  }
  const missing = await h.call("GET", "/admin/tenants/5b0c8a52-3f0e-4c54-9d59-7a5c0a6f1e21/usage");
  expect(missing.status).toBe(404);
});
