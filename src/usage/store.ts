import { randomUUID } from "node:crypto";
import { and, eq, gte, lt, sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { preparedPerDatabase } from "../db/index.ts";
import { modelUsage } from "../db/schema.ts";

/** One model request's tokens and cost, as the gateway recorded it (never its content). */
export interface ModelUsageRecord {
  tenantId: string;
  runId: string | null;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  costUsd: number;
  /** The upstream HTTP status. */
  status: number;
  /** The tenant's local calendar day of the request (YYYY-MM-DD). */
  day: string;
}

export async function recordModelUsage(db: Db, record: ModelUsageRecord): Promise<void> {
  await db.insert(modelUsage).values({
    id: randomUUID(),
    tenant_id: record.tenantId,
    run_id: record.runId,
    model: record.model,
    input_tokens: record.inputTokens,
    output_tokens: record.outputTokens,
    cache_creation_input_tokens: record.cacheCreationInputTokens,
    cache_read_input_tokens: record.cacheReadInputTokens,
    cost_usd: record.costUsd,
    status: record.status,
    day: record.day,
  });
}

/** Token and cost totals over some set of model_usage rows. */
export interface UsageTotals {
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  costUsd: number;
  requests: number;
  runs: number;
  /** Requests answered 5xx (upstream, or 502 by the gateway when the API could not be reached). */
  serverErrors: number;
}

/** Totals of no rows. */
export const NO_USAGE: Readonly<UsageTotals> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheCreationInputTokens: 0,
  cacheReadInputTokens: 0,
  costUsd: 0,
  requests: 0,
  runs: 0,
  serverErrors: 0,
});

/** Two sets of totals added (runs of different tenants or months never overlap). */
export function addUsage(a: UsageTotals, b: UsageTotals): UsageTotals {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheCreationInputTokens: a.cacheCreationInputTokens + b.cacheCreationInputTokens,
    cacheReadInputTokens: a.cacheReadInputTokens + b.cacheReadInputTokens,
    costUsd: a.costUsd + b.costUsd,
    requests: a.requests + b.requests,
    runs: a.runs + b.runs,
    serverErrors: a.serverErrors + b.serverErrors,
  };
}

const totals = {
  inputTokens: sql<number>`coalesce(sum(${modelUsage.input_tokens}), 0)`,
  outputTokens: sql<number>`coalesce(sum(${modelUsage.output_tokens}), 0)`,
  cacheCreationInputTokens: sql<number>`coalesce(sum(${modelUsage.cache_creation_input_tokens}), 0)`,
  cacheReadInputTokens: sql<number>`coalesce(sum(${modelUsage.cache_read_input_tokens}), 0)`,
  costUsd: sql<number>`coalesce(sum(${modelUsage.cost_usd}), 0)`,
  requests: sql<number>`count(*)`,
  runs: sql<number>`count(distinct ${modelUsage.run_id})`,
  serverErrors: sql<number>`coalesce(sum(case when ${modelUsage.status} >= 500 then 1 else 0 end), 0)`,
};

/** `YYYY-MM` → the day range [first, first of next month) in `day`'s YYYY-MM-DD text. */
export function monthDays(month: string): { from: string; to: string } {
  const [year, mon] = month.split("-").map(Number) as [number, number];
  const next = mon === 12 ? `${year + 1}-01` : `${year}-${String(mon + 1).padStart(2, "0")}`;
  return { from: `${month}-01`, to: `${next}-01` };
}

/** Every tenant's totals for one month (each tenant's own local month), keyed by tenant id. */
export async function usageByTenantForMonth(db: Db, month: string): Promise<Map<string, UsageTotals>> {
  const { from, to } = monthDays(month);
  const rows = await db
    .select({ tenantId: modelUsage.tenant_id, ...totals })
    .from(modelUsage)
    .where(and(gte(modelUsage.day, from), lt(modelUsage.day, to)))
    .groupBy(modelUsage.tenant_id);
  return new Map(rows.map(({ tenantId, ...rest }) => [tenantId, rest]));
}

/** One tenant's totals for one month, per local day (days without requests left out), oldest first. */
export async function tenantUsageByDay(
  db: Db,
  tenantId: string,
  month: string,
): Promise<({ day: string } & UsageTotals)[]> {
  const { from, to } = monthDays(month);
  return db
    .select({ day: modelUsage.day, ...totals })
    .from(modelUsage)
    .where(and(eq(modelUsage.tenant_id, tenantId), gte(modelUsage.day, from), lt(modelUsage.day, to)))
    .groupBy(modelUsage.day)
    .orderBy(modelUsage.day);
}

/** One tenant's spend in one month (USD), the figure budgets compare against. */
export async function tenantMonthSpend(db: Db, tenantId: string, month: string): Promise<number> {
  const { from, to } = monthDays(month);
  const rows = await db
    .select({ costUsd: totals.costUsd })
    .from(modelUsage)
    .where(and(eq(modelUsage.tenant_id, tenantId), gte(modelUsage.day, from), lt(modelUsage.day, to)));
  return rows[0]?.costUsd ?? 0;
}

/** One run's totals (its rows are found through the tenant's index, then by run id). */
export async function runUsageTotals(db: Db, tenantId: string, runId: string): Promise<UsageTotals> {
  const rows = await runTotalsStatement(db).all({ tenantId, runId });
  return rows[0] ?? { ...NO_USAGE };
}

/** The query behind runUsageTotals, prepared once per database: it runs after every metered run. */
const runTotalsStatement = preparedPerDatabase((db) =>
  db
    .select(totals)
    .from(modelUsage)
    .where(and(eq(modelUsage.tenant_id, sql.placeholder("tenantId")), eq(modelUsage.run_id, sql.placeholder("runId"))))
    .prepare(),
);

/** One tenant's totals for one month (its local month), distinct runs counted once. */
export async function tenantMonthTotals(db: Db, tenantId: string, month: string): Promise<UsageTotals> {
  const { from, to } = monthDays(month);
  const rows = await db
    .select(totals)
    .from(modelUsage)
    .where(and(eq(modelUsage.tenant_id, tenantId), gte(modelUsage.day, from), lt(modelUsage.day, to)));
  return rows[0]!;
}
