import { inArray } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/index.ts";
import { tenants } from "../db/schema.ts";
import type { UsageTotals } from "../usage/index.ts";
import { addUsage, NO_USAGE, usageByTenantForMonth } from "../usage/index.ts";

const USAGE_SORT = ["cost", "name", "requests", "runs", "input", "output"] as const;
export type UsageSort = (typeof USAGE_SORT)[number];

/** The usage page's query string (bad values fall back to defaults). */
export const usageQuerySchema = z.object({
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/)
    .optional()
    .catch(undefined),
  sort: z.enum(USAGE_SORT).catch("cost").default("cost"),
  dir: z.enum(["asc", "desc"]).catch("desc").default("desc"),
});

export interface UsageRow extends UsageTotals {
  tenantId: string;
  tenantName: string;
}

export interface UsageReport {
  month: string;
  rows: UsageRow[];
  totals: UsageTotals;
}

/** Every tenant's model usage in one month (src/usage's sums), named and sorted; tenants without usage left out. */
export async function loadUsage(db: Db, month: string, sort: UsageSort, dir: "asc" | "desc"): Promise<UsageReport> {
  const byTenant = await usageByTenantForMonth(db, month);
  const ids = [...byTenant.keys()];
  const names = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const found = await db
      .select({ id: tenants.id, name: tenants.name })
      .from(tenants)
      .where(inArray(tenants.id, chunk));
    for (const row of found) names.set(row.id, row.name);
  }
  const rows: UsageRow[] = [...byTenant].map(([tenantId, totals]) => ({
    tenantId,
    tenantName: names.get(tenantId) ?? tenantId,
    ...numeric(totals),
  }));
  const key = (r: UsageRow): number | string =>
    sort === "name"
      ? r.tenantName.toLowerCase()
      : sort === "requests"
        ? r.requests
        : sort === "runs"
          ? r.runs
          : sort === "input"
            ? r.inputTokens
            : sort === "output"
              ? r.outputTokens
              : r.costUsd;
  rows.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    const order = x < y ? -1 : x > y ? 1 : a.tenantName.localeCompare(b.tenantName);
    return dir === "asc" ? order : -order;
  });
  const totals = rows.reduce<UsageTotals>(addUsage, NO_USAGE);
  return { month, rows, totals };
}

function numeric(t: UsageTotals): UsageTotals {
  return {
    inputTokens: Number(t.inputTokens),
    outputTokens: Number(t.outputTokens),
    cacheCreationInputTokens: Number(t.cacheCreationInputTokens),
    cacheReadInputTokens: Number(t.cacheReadInputTokens),
    costUsd: Number(t.costUsd),
    requests: Number(t.requests),
    runs: Number(t.runs),
    serverErrors: Number(t.serverErrors),
  };
}

/** The report as CSV (RFC 4180 quoting; a cell starting with = + - @ is prefixed with ' so spreadsheets never run it). */
export function usageCsv(report: UsageReport): string {
  const header = [
    "month",
    "tenant_id",
    "tenant_name",
    "requests",
    "runs",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost_usd",
  ];
  const lines = report.rows.map((r) =>
    [
      report.month,
      r.tenantId,
      r.tenantName,
      r.requests,
      r.runs,
      r.inputTokens,
      r.outputTokens,
      r.cacheCreationInputTokens,
      r.cacheReadInputTokens,
      r.costUsd.toFixed(4),
    ]
      .map(csvCell)
      .join(","),
  );
  return `${[header.join(","), ...lines].join("\r\n")}\r\n`;
}

function csvCell(value: string | number): string {
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
