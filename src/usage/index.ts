export type { ModelUsageRecord, UsageTotals } from "./store.ts";
export { monthDays, recordModelUsage, tenantMonthSpend, tenantUsageByDay, usageByTenantForMonth } from "./store.ts";
