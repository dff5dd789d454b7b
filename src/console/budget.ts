import { eq } from "drizzle-orm";
import type { Config } from "../config.ts";
import type { Db } from "../db/index.ts";
import { tenants } from "../db/schema.ts";

/**
 * The monthly model budget a tenant's spend is compared with: its own `tenants.monthly_budget_usd`, else
 * TENANT_MONTHLY_BUDGET_USD, else none (null). One function, so the console follows src/usage's budget rule
 * when that lands.
 */
export function monthlyBudgetUsd(
  tenantBudgetUsd: number | null,
  config: Pick<Config, "tenantMonthlyBudgetUsd">,
): number | null {
  return tenantBudgetUsd ?? config.tenantMonthlyBudgetUsd;
}

/** The share of the budget at which the overview flags a tenant ("needs attention"). */
export const BUDGET_WARN_SHARE = 0.8;

/** The calendar month (YYYY-MM, UTC) of a moment: the month the console shows spend for. */
export function monthOf(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 7);
}

/** Whether /health's fields say the platform's model account is out of credit (read the way /health reports it). */
export function isCreditLow(healthFields: Record<string, unknown>): boolean {
  return JSON.stringify(healthFields).includes("credit_too_low");
}

/** A tenant's own `monthly_budget_usd` (the Tenant type does not carry it). */
export async function tenantBudgetUsd(db: Db, tenantId: string): Promise<number | null> {
  const rows = await db
    .select({ budget: tenants.monthly_budget_usd })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
    .limit(1);
  return rows[0]?.budget ?? null;
}
