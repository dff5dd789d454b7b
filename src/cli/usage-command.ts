import { UsageError } from "../errors.ts";
import type { TenantUsageReport, UsageFigures, UsageReport } from "../ops/usage.ts";
import { monthSchema, setTenantBudget, tenantUsageReport, usageReport } from "../ops/usage.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs, printJson, tenantIdArg } from "./command.ts";

const USAGE = "Usage: proxystaff usage [tenant-id] [--month YYYY-MM] [--budget USD|none] [--json]";

export const usageCommand: Command = {
  name: "usage",
  summary: "Model tokens and cost per tenant (or one tenant per day) for a month; set a tenant's budget",
  help: `${USAGE}

Without a tenant id: every tenant's model tokens, cost, runs and monthly budget for the month
(default: the current month, UTC), costliest first. With one: that tenant's month per local day
(default: its current month in its own time zone). Months are each tenant's local calendar months.
Figures come from model_usage: one row per model request through the gateway (MODEL_GATEWAY=on).

Options:
  --month YYYY-MM     The month to show
  --budget USD|none   Set the tenant's monthly budget (USD), or "none" to clear it so that
                      TENANT_MONTHLY_BUDGET_USD applies (needs a tenant id)
  --json              Print the report as JSON`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      month: { type: "string" },
      budget: { type: "string" },
      json: { type: "boolean" },
    });
    const month = values.month === undefined ? undefined : parseMonth(values.month);
    if (positionals.length === 0) {
      if (values.budget !== undefined) throw new UsageError(`--budget needs a tenant id. ${USAGE}`);
      const report = await usageReport(ctx, month);
      if (values.json) printJson(io, report);
      else for (const line of formatUsageReport(report)) io.out(line);
      return 0;
    }
    const id = tenantIdArg(positionals, USAGE);
    if (values.budget !== undefined) {
      const tenant = await setTenantBudget(ctx, id, parseBudget(values.budget));
      io.err(
        tenant.monthly_budget_usd === null
          ? `Tenant ${id}: budget cleared (TENANT_MONTHLY_BUDGET_USD applies: ${ctx.config.tenantMonthlyBudgetUsd ?? "none"}).`
          : `Tenant ${id}: monthly budget set to ${tenant.monthly_budget_usd} USD.`,
      );
    }
    const report = await tenantUsageReport(ctx, id, month);
    if (values.json) printJson(io, report);
    else for (const line of formatTenantUsage(report)) io.out(line);
    return 0;
  },
};

function parseMonth(raw: string): string {
  const parsed = monthSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`--month ${JSON.stringify(raw)} ${parsed.error.issues[0]?.message}.`);
  return parsed.data;
}

function parseBudget(raw: string): number | null {
  if (/^(none|null|off)$/i.test(raw.trim())) return null;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(value > 0)) {
    throw new UsageError(`--budget ${JSON.stringify(raw)} must be a positive number of US dollars, or "none".`);
  }
  return value;
}

/** A table of every tenant's month. */
export function formatUsageReport(report: UsageReport): string[] {
  const rows = report.tenants.map((t) => [
    t.name.length > 28 ? `${t.name.slice(0, 27)}…` : t.name,
    t.tenant_id,
    ...figureCells(t),
    budgetCell(t.budget_usd, t.is_over_budget, t.is_budget_reply_sent),
  ]);
  const total = ["TOTAL", "", ...figureCells(report.totals), ""];
  return [
    `Model usage in ${report.month} (each tenant's local month)`,
    ...table(["TENANT", "ID", ...FIGURE_HEADERS, "BUDGET"], [...rows, total]),
  ];
}

/** A table of one tenant's month, per day. */
export function formatTenantUsage(report: TenantUsageReport): string[] {
  const rows = report.days.map((d) => [d.day, ...figureCells(d)]);
  return [
    `Model usage of ${report.name} (${report.tenant_id}) in ${report.month} (${report.timezone})`,
    `Budget: ${budgetCell(report.budget_usd, report.is_over_budget, report.is_budget_reply_sent)}${report.budget_source === "default" ? " (TENANT_MONTHLY_BUDGET_USD)" : ""}`,
    ...table(["DAY", ...FIGURE_HEADERS], [...rows, ["TOTAL", ...figureCells(report.totals)]]),
  ];
}

const FIGURE_HEADERS = ["INPUT", "OUTPUT", "CACHE W", "CACHE R", "COST USD", "REQUESTS", "RUNS"];

function figureCells(f: UsageFigures): string[] {
  return [
    f.input_tokens.toLocaleString("en-US"),
    f.output_tokens.toLocaleString("en-US"),
    f.cache_creation_input_tokens.toLocaleString("en-US"),
    f.cache_read_input_tokens.toLocaleString("en-US"),
    f.cost_usd.toFixed(4),
    String(f.requests),
    String(f.runs),
  ];
}

function budgetCell(budget: number | null, isOver: boolean, isReplySent: boolean): string {
  if (budget === null) return "none";
  if (!isOver) return `${budget} USD`;
  return `${budget} USD — REACHED${isReplySent ? ", runs refused" : ""}`;
}

/** Columns padded to their widest cell; numbers right-aligned (every column but the first two). */
function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => (i < 2 && headers[i] !== "INPUT" ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [format(headers), ...rows.map(format)];
}
