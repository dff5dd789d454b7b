import { z } from "zod";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import type { Tenant } from "../tenants/index.ts";
import { listTenants, requireTenant, updateTenant } from "../tenants/index.ts";
import type { UsageTotals } from "../usage/index.ts";
import {
  budgetFor,
  budgetNoticeMonth,
  isOverBudget,
  tenantMonth,
  tenantMonthTotals,
  tenantUsageByDay,
  usageByTenantForMonth,
} from "../usage/index.ts";

/** `YYYY-MM`, the month of a usage report (each tenant's own local calendar month). */
export const monthSchema = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "must be a month as YYYY-MM, e.g. 2026-12");

/** Token and cost totals as the admin API and the CLI show them. */
export interface UsageFigures {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cost_usd: number;
  requests: number;
  runs: number;
}

/** One tenant's line of the month's report. */
export interface TenantMonthUsage extends UsageFigures {
  tenant_id: string;
  name: string;
  status: Tenant["status"];
  /** The tenant's budget (its own or TENANT_MONTHLY_BUDGET_USD); null = none. */
  budget_usd: number | null;
  /** Where the budget comes from. */
  budget_source: "tenant" | "default" | "none";
  is_over_budget: boolean;
  /** The customer was sent the "budget reached" reply this month (runs are being refused). */
  is_budget_reply_sent: boolean;
}

export interface UsageReport {
  month: string;
  tenants: TenantMonthUsage[];
  totals: UsageFigures;
}

const TENANT_PAGE = 500;

/** Every tenant's tokens, cost, runs and budget in one month (default: the current UTC month), costliest first. */
export async function usageReport(ctx: AppContext, month?: string): Promise<UsageReport> {
  const reportMonth = month ?? isoAt(ctx.clock.now()).slice(0, 7);
  const byTenant = await usageByTenantForMonth(ctx.db, reportMonth);
  const tenants = await allTenants(ctx);
  const lines = await Promise.all(
    tenants.map(async (tenant) => {
      const figures = toFigures(byTenant.get(tenant.id));
      const budget = budgetFor(tenant, ctx.config);
      return {
        tenant_id: tenant.id,
        name: tenant.name,
        status: tenant.status,
        ...figures,
        budget_usd: budget,
        budget_source: budgetSource(tenant, ctx),
        is_over_budget: isOverBudget(figures.cost_usd, budget),
        is_budget_reply_sent: (await budgetNoticeMonth(ctx.db, tenant.id)) === reportMonth,
      } satisfies TenantMonthUsage;
    }),
  );
  lines.sort((a, b) => b.cost_usd - a.cost_usd || a.name.localeCompare(b.name));
  return { month: reportMonth, tenants: lines, totals: sumFigures(lines) };
}

/** One tenant's month, per local day, with its budget (default month: the tenant's current one). */
export interface TenantUsageReport {
  tenant_id: string;
  name: string;
  month: string;
  timezone: string;
  budget_usd: number | null;
  budget_source: "tenant" | "default" | "none";
  is_over_budget: boolean;
  is_budget_reply_sent: boolean;
  days: (UsageFigures & { day: string })[];
  totals: UsageFigures;
}

export async function tenantUsageReport(ctx: AppContext, tenantId: string, month?: string): Promise<TenantUsageReport> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const reportMonth = month ?? tenantMonth(ctx.clock.now(), tenant.timezone);
  const days = (await tenantUsageByDay(ctx.db, tenant.id, reportMonth)).map(({ day, ...totals }) => ({
    day,
    ...toFigures(totals),
  }));
  // Per-day runs would count twice a run that crossed midnight: the month's totals come from one query.
  const totals = toFigures(await tenantMonthTotals(ctx.db, tenant.id, reportMonth));
  const budget = budgetFor(tenant, ctx.config);
  return {
    tenant_id: tenant.id,
    name: tenant.name,
    month: reportMonth,
    timezone: tenant.timezone,
    budget_usd: budget,
    budget_source: budgetSource(tenant, ctx),
    is_over_budget: isOverBudget(totals.cost_usd, budget),
    is_budget_reply_sent: (await budgetNoticeMonth(ctx.db, tenant.id)) === reportMonth,
    days,
    totals,
  };
}

/** Sets (a positive USD amount) or clears (null: TENANT_MONTHLY_BUDGET_USD applies) a tenant's monthly budget. */
export async function setTenantBudget(ctx: AppContext, tenantId: string, budgetUsd: number | null): Promise<Tenant> {
  return updateTenant(ctx, tenantId, { monthly_budget_usd: budgetUsd });
}

function budgetSource(tenant: Tenant, ctx: AppContext): "tenant" | "default" | "none" {
  if (tenant.monthly_budget_usd !== null) return "tenant";
  return ctx.config.tenantMonthlyBudgetUsd !== null ? "default" : "none";
}

async function allTenants(ctx: AppContext): Promise<Tenant[]> {
  const all: Tenant[] = [];
  for (let offset = 0; ; offset += TENANT_PAGE) {
    const page = await listTenants(ctx.db, { limit: TENANT_PAGE, offset });
    all.push(...page.tenants);
    if (page.tenants.length < TENANT_PAGE) return all;
  }
}

function toFigures(totals: UsageTotals | undefined): UsageFigures {
  return {
    input_tokens: totals?.inputTokens ?? 0,
    output_tokens: totals?.outputTokens ?? 0,
    cache_creation_input_tokens: totals?.cacheCreationInputTokens ?? 0,
    cache_read_input_tokens: totals?.cacheReadInputTokens ?? 0,
    cost_usd: roundUsd(totals?.costUsd ?? 0),
    requests: totals?.requests ?? 0,
    runs: totals?.runs ?? 0,
  };
}

function sumFigures(lines: UsageFigures[]): UsageFigures {
  const sum = (key: keyof UsageFigures) => lines.reduce((total, line) => total + line[key], 0);
  return {
    input_tokens: sum("input_tokens"),
    output_tokens: sum("output_tokens"),
    cache_creation_input_tokens: sum("cache_creation_input_tokens"),
    cache_read_input_tokens: sum("cache_read_input_tokens"),
    cost_usd: roundUsd(sum("cost_usd")),
    requests: sum("requests"),
    runs: sum("runs"),
  };
}

function roundUsd(value: number): number {
  return Math.round(value * 1_000_000) / 1_000_000;
}
