import { and, eq, ne } from "drizzle-orm";
import { isoAt, localDate } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/index.ts";
import { appState } from "../db/schema.ts";
import { tenantMonthSpend } from "./store.ts";

/** The tenant fields budgets need. */
export interface BudgetTenant {
  id: string;
  timezone: string;
  monthly_budget_usd: number | null;
}

/** The error code (messages.error, run outcome) of a run refused or stopped by the budget. */
export const BUDGET_EXCEEDED = "budget_exceeded";

/** The tenant's monthly budget in USD: its own, else TENANT_MONTHLY_BUDGET_USD; null = no budget. */
export function budgetFor(
  tenant: Pick<BudgetTenant, "monthly_budget_usd">,
  config: Pick<Config, "tenantMonthlyBudgetUsd">,
): number | null {
  return tenant.monthly_budget_usd ?? config.tenantMonthlyBudgetUsd;
}

/** The calendar month ("2026-12") of an instant in the tenant's time zone: the month its budget counts. */
export function tenantMonth(nowMs: number, timezone: string): string {
  return tenantDay(nowMs, timezone).slice(0, 7);
}

/** The calendar day ("2026-12-03") of an instant in the tenant's zone (model_usage.day); UTC if the zone is unknown. */
export function tenantDay(nowMs: number, timezone: string): string {
  try {
    return localDate(nowMs, timezone);
  } catch {
    return localDate(nowMs, "UTC"); // a zone the runtime does not know (a hand-edited row): still counted
  }
}

/** Spend at or over the budget; never with no budget. */
export function isOverBudget(spentUsd: number, budgetUsd: number | null): boolean {
  return budgetUsd !== null && spentUsd >= budgetUsd;
}

/** A tenant's budget this month as the checks see it. */
export interface BudgetStatus {
  month: string;
  budgetUsd: number | null;
  spentUsd: number;
  isOver: boolean;
}

/** Reads the tenant's spend this (tenant-local) month against its budget; no query when it has no budget. */
export async function budgetStatus(
  db: Db,
  tenant: BudgetTenant,
  config: Pick<Config, "tenantMonthlyBudgetUsd">,
  nowMs: number,
): Promise<BudgetStatus> {
  const month = tenantMonth(nowMs, tenant.timezone);
  const budgetUsd = budgetFor(tenant, config);
  if (budgetUsd === null) return { month, budgetUsd, spentUsd: 0, isOver: false };
  const spentUsd = await tenantMonthSpend(db, tenant.id, month);
  return { month, budgetUsd, spentUsd, isOver: isOverBudget(spentUsd, budgetUsd) };
}

const noticeKey = (tenantId: string) => `usage.budget_notice.${tenantId}`;

/**
 * Claims the one "budget reached" reply of this tenant's month: true the first time for a month (the caller sends
 * it), false after. One conditional upsert, so two processes (or two batches) never both send it.
 */
export async function claimBudgetNotice(db: Db, tenantId: string, month: string, nowMs: number): Promise<boolean> {
  const key = noticeKey(tenantId);
  const claimed = await db
    .insert(appState)
    .values({ key, value: month, updated_at: isoAt(nowMs) })
    .onConflictDoUpdate({
      target: appState.key,
      set: { value: month, updated_at: isoAt(nowMs) },
      setWhere: and(eq(appState.key, key), ne(appState.value, month)),
    })
    .returning({ key: appState.key });
  return claimed.length > 0;
}

/** The month whose "budget reached" reply this tenant was sent (null: never), for admin usage. */
export async function budgetNoticeMonth(db: Db, tenantId: string): Promise<string | null> {
  const rows = await db
    .select({ value: appState.value })
    .from(appState)
    .where(eq(appState.key, noticeKey(tenantId)));
  return rows[0]?.value ?? null;
}
