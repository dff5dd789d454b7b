import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import {
  budgetFor,
  budgetStatus,
  CreditState,
  claimBudgetNotice,
  isOverBudget,
  recordModelUsage,
  tenantDay,
  tenantMonth,
} from "../../src/usage/index.ts";
import { insertTenant, TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY, useTestContext } from "../helpers/index.ts";

const config = (env: Record<string, string> = {}) =>
  loadConfig(
    {
      DATA_DIR: "/nonexistent-budget-test",
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
      ...env,
    },
    { generateSecrets: false },
  );

describe("budget rules", () => {
  test("the tenant's own budget, else TENANT_MONTHLY_BUDGET_USD, else none", () => {
    const withDefault = config({ TENANT_MONTHLY_BUDGET_USD: "25.5" });
    expect(withDefault.tenantMonthlyBudgetUsd).toBe(25.5);
    expect(budgetFor({ monthly_budget_usd: 10 }, withDefault)).toBe(10);
    expect(budgetFor({ monthly_budget_usd: null }, withDefault)).toBe(25.5);
    expect(budgetFor({ monthly_budget_usd: null }, config())).toBeNull();
    expect(() => config({ TENANT_MONTHLY_BUDGET_USD: "-3" })).toThrow(/TENANT_MONTHLY_BUDGET_USD/);
    expect(() => config({ MODEL_PRICES: "{nope" })).toThrow(/MODEL_PRICES/);
    expect(() => config({ MODEL_PRICES: '{"x":{"input":1}}' })).toThrow(/MODEL_PRICES/);
    expect(
      config({ MODEL_PRICES: '{"x":{"input":1,"output":2,"cache_write":3,"cache_read":4}}' }).modelPrices.x,
    ).toEqual({
      input: 1,
      output: 2,
      cache_write: 3,
      cache_read: 4,
    });
  });

  test("at or over the budget is over; no budget never is", () => {
    expect(isOverBudget(10, 10)).toBe(true);
    expect(isOverBudget(9.99, 10)).toBe(false);
    expect(isOverBudget(1e9, null)).toBe(false);
  });

  test("the month is the tenant's: 1 Jan 03:00 UTC is still December in Denver", () => {
    const at = Date.parse("2027-01-01T03:00:00Z");
    expect(tenantMonth(at, "America/Denver")).toBe("2026-12");
    expect(tenantDay(at, "America/Denver")).toBe("2026-12-31");
    expect(tenantMonth(at, "Asia/Tokyo")).toBe("2027-01");
    expect(tenantDay(at, "Not/AZone")).toBe("2027-01-01");
  });
});

describe("budget state in the database", () => {
  const t = useTestContext();

  test("budgetStatus sums the tenant's local month only", async () => {
    const tenant = await insertTenant(t.ctx, { timezone: "America/Denver", monthly_budget_usd: 5 });
    const other = await insertTenant(t.ctx);
    const row = {
      runId: "r",
      model: "m",
      inputTokens: 0,
      outputTokens: 0,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
      status: 200,
    };
    await recordModelUsage(t.ctx.db, { ...row, tenantId: tenant.id, costUsd: 3, day: "2026-12-31" });
    await recordModelUsage(t.ctx.db, { ...row, tenantId: tenant.id, costUsd: 4, day: "2027-01-01" });
    await recordModelUsage(t.ctx.db, { ...row, tenantId: other.id, costUsd: 50, day: "2026-12-15" });
    const at = Date.parse("2027-01-01T03:00:00Z"); // December in Denver
    const status = await budgetStatus(t.ctx.db, tenant, t.ctx.config, at);
    expect(status).toEqual({ month: "2026-12", budgetUsd: 5, spentUsd: 3, isOver: false });
    await recordModelUsage(t.ctx.db, { ...row, tenantId: tenant.id, costUsd: 2, day: "2026-12-01" });
    expect((await budgetStatus(t.ctx.db, tenant, t.ctx.config, at)).isOver).toBe(true);
  });

  test("the budget notice is claimed once per month, and again in the next", async () => {
    const tenant = await insertTenant(t.ctx);
    const results = await Promise.all([1, 2, 3].map(() => claimBudgetNotice(t.ctx.db, tenant.id, "2026-12", 0)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await claimBudgetNotice(t.ctx.db, tenant.id, "2026-12", 0)).toBe(false);
    expect(await claimBudgetNotice(t.ctx.db, tenant.id, "2027-01", 0)).toBe(true);
  });

  test("credit low is recorded once with its first time, and cleared by a success", async () => {
    const credit = new CreditState(t.ctx.db);
    expect((await credit.health()).fields).toEqual({ model: "ok" });
    expect(await credit.markLow(Date.parse("2026-12-03T10:00:00Z"))).toBe(true);
    expect(await credit.markLow(Date.parse("2026-12-03T11:00:00Z"))).toBe(false);
    // Another process reads the same row.
    expect((await new CreditState(t.ctx.db).health()).fields).toEqual({
      model: "credit_low",
      model_credit_low_since: "2026-12-03T10:00:00.000Z",
    });
    expect(await credit.markOk()).toBe(true);
    expect(await credit.markOk()).toBe(false);
    expect((await credit.health()).fields).toEqual({ model: "ok" });
  });
});
