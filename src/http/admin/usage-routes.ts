import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../../context.ts";
import { TENANT_STATUSES } from "../../db/schema.ts";
import { monthSchema, tenantUsageReport, usageReport } from "../../ops/usage.ts";
import type { AdminApi } from "./api.ts";
import { errorResponses, jsonResponse, TenantIdParams } from "./api.ts";

const MonthQuery = z.object({
  month: monthSchema.optional().openapi({
    param: { name: "month", in: "query" },
    description:
      "YYYY-MM; each tenant's own local calendar month. Default: the current month (UTC for the list, the tenant's zone for one tenant)",
    example: "2026-12",
  }),
});

const figures = {
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cache_creation_input_tokens: z.number().int(),
  cache_read_input_tokens: z.number().int(),
  cost_usd: z.number().openapi({ description: "USD, from MODEL_PRICES over the built-in price table" }),
  requests: z.number().int().openapi({ description: "Model requests through the gateway" }),
  runs: z.number().int().openapi({ description: "Agent runs that made at least one model request" }),
};
const UsageFigures = z.object(figures).openapi("UsageTotals");

const budget = {
  budget_usd: z.number().nullable().openapi({ description: "Monthly budget; null = none" }),
  budget_source: z.enum(["tenant", "default", "none"]).openapi({
    description: "tenant = tenants.monthly_budget_usd, default = TENANT_MONTHLY_BUDGET_USD",
  }),
  is_over_budget: z.boolean(),
  is_budget_reply_sent: z.boolean().openapi({
    description: "The customer got this month's one 'budget reached' reply: runs are being refused",
  }),
};

const UsageReportSchema = z
  .object({
    month: z.string().openapi({ example: "2026-12" }),
    tenants: z.array(
      z
        .object({
          tenant_id: z.string().openapi({ format: "uuid" }),
          name: z.string(),
          status: z.enum(TENANT_STATUSES),
          ...figures,
          ...budget,
        })
        .openapi("TenantMonthUsage"),
    ),
    totals: UsageFigures,
  })
  .openapi("UsageReport");

const TenantUsageSchema = z
  .object({
    tenant_id: z.string().openapi({ format: "uuid" }),
    name: z.string(),
    month: z.string().openapi({ example: "2026-12" }),
    timezone: z.string(),
    ...budget,
    days: z.array(z.object({ day: z.string().openapi({ example: "2026-12-03" }), ...figures }).openapi("UsageDay")),
    totals: UsageFigures,
  })
  .openapi("TenantUsage");

/** GET /admin/usage and GET /admin/tenants/:id/usage: tokens and cost through the model gateway, budgets. */
export function registerUsageRoutes(api: AdminApi, ctx: AppContext): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/usage",
      tags: ["usage"],
      summary: "Every tenant's model tokens, cost, runs and budget in one month, costliest first",
      request: { query: MonthQuery },
      responses: { 200: jsonResponse(UsageReportSchema, "The month's usage"), ...errorResponses(400, 401) },
    }),
    async (c) => c.json(await usageReport(ctx, c.req.valid("query").month), 200),
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/tenants/{id}/usage",
      tags: ["usage"],
      summary: "One tenant's model tokens and cost per local day of a month, and its budget",
      request: { params: TenantIdParams, query: MonthQuery },
      responses: { 200: jsonResponse(TenantUsageSchema, "The tenant's month"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => c.json(await tenantUsageReport(ctx, c.req.valid("param").id, c.req.valid("query").month), 200),
  );
}
