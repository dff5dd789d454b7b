import type { Config } from "../config.ts";
import { budgetFor } from "../usage/index.ts";

/**
 * The monthly model budget a tenant's spend is compared with: src/usage's rule (its own
 * `tenants.monthly_budget_usd`, else TENANT_MONTHLY_BUDGET_USD, else none).
 */
export function monthlyBudgetUsd(
  tenantBudgetUsd: number | null,
  config: Pick<Config, "tenantMonthlyBudgetUsd">,
): number | null {
  return budgetFor({ monthly_budget_usd: tenantBudgetUsd }, config);
}

/** The share of the budget at which the overview flags a tenant ("needs attention"). */
export const BUDGET_WARN_SHARE = 0.8;

/** The calendar month (YYYY-MM, UTC) of a moment: the month the console shows spend for. */
export function monthOf(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 7);
}

/**
 * Whether /health's fields say the platform's model account is out of credit: the gateway's `model: "credit_low"`,
 * or (gateway off) the last run failing with credit_too_low.
 */
export function isCreditLow(healthFields: Record<string, unknown>): boolean {
  const agent = healthFields.agent;
  return healthFields.model === "credit_low" || (typeof agent === "string" && agent.startsWith("credit_too_low"));
}
