export type { BudgetStatus, BudgetTenant } from "./budget.ts";
export {
  BUDGET_EXCEEDED,
  budgetFor,
  budgetNoticeMonth,
  budgetStatus,
  claimBudgetNotice,
  isOverBudget,
  tenantDay,
  tenantMonth,
} from "./budget.ts";
export { CreditState } from "./credit.ts";
export { UsageMeter } from "./metering.ts";
export { PriceTable } from "./prices.ts";
export type { ModelUsageRecord, UsageTotals } from "./store.ts";
export {
  addUsage,
  monthDays,
  NO_USAGE,
  recordModelUsage,
  runUsageTotals,
  tenantMonthSpend,
  tenantMonthTotals,
  tenantUsageByDay,
  usageByTenantForMonth,
} from "./store.ts";
