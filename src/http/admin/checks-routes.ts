import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../../context.ts";
import { AppError, errorMessage } from "../../errors.ts";
import { assertOwnedHere, isOwnedHere } from "../../instances/index.ts";
import { runServerSideToolChecks, runToolHealthChecks } from "../../ops/tool-health.ts";
import { validateTenant } from "../../ops/validation.ts";
import type { Tenant } from "../../tenants/index.ts";
import { listTenants, requireTenant } from "../../tenants/index.ts";
import type { AdminApi } from "./api.ts";
import { errorResponses, jsonBody, jsonResponse, TenantIdParams } from "./api.ts";

const CheckSchema = z.object({
  name: z.string(),
  status: z.enum(["ok", "warn", "fail"]),
  detail: z.string(),
  fix: z.string().optional(),
});

const ValidationReportSchema = z
  .object({
    tenant_id: z.string(),
    name: z.string(),
    ok: z.boolean().openapi({ description: "True when no check failed" }),
    counts: z.object({ ok: z.number().int(), warn: z.number().int(), fail: z.number().int() }),
    checks: z.array(CheckSchema),
  })
  .openapi("ValidationReport");

const ValidateQuery = z.object({
  health: z
    .enum(["true", "false"])
    .default("true")
    .openapi({ description: "Run the tools' health checks (default true)" }),
});

const HealthCheckBody = z
  .object({
    tenant_id: z
      .string()
      .regex(/^[0-9a-f-]{36}$/i, "must be a tenant id (UUID)")
      .optional(),
  })
  .strict()
  .openapi("ToolHealthCheckRequest");

const ToolHealthSchema = z.object({
  tool: z.string(),
  status: z.enum(["ok", "warn", "failed"]).openapi({ description: "warn: a server-side tool's credential is not set" }),
  output: z.string().openapi({ description: "The check's output, secrets redacted" }),
  exit_code: z.number().int().nullable(),
  duration_ms: z.number(),
});

const TenantHealthSchema = z.object({
  tenant_id: z.string(),
  name: z.string(),
  ok: z.boolean(),
  error: z
    .string()
    .optional()
    .openapi({ description: "Why the tools could not be run (e.g. the vault cannot be decrypted)" }),
  tools: z.array(ToolHealthSchema),
});
type TenantHealth = z.infer<typeof TenantHealthSchema>;

const HealthReport = z
  .object({
    ok: z.boolean(),
    tenants: z.array(TenantHealthSchema),
  })
  .openapi("ToolHealthReport");

/** How many tenants' checks run at once when every tenant is checked. */
const HEALTH_CONCURRENCY = 4;

/** GET /tenants/:id/validate and POST /tools/health-check. */
export function registerCheckRoutes(api: AdminApi, ctx: AppContext): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/tenants/{id}/validate",
      tags: ["validation"],
      summary: "The tenant's setup checklist: each line ok / warn / fail with a fix hint",
      request: { params: TenantIdParams, query: ValidateQuery },
      responses: { 200: jsonResponse(ValidationReportSchema, "The checklist"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const report = await validateTenant(ctx, c.req.valid("param").id, {
        healthChecks: c.req.valid("query").health === "true",
      });
      return c.json(report, 200);
    },
  );

  // The body is optional: `curl -X POST -H 'Content-Type: application/json'` without -d must mean {} (every
  // tenant), not invalid_json. The JSON validator parses whatever is sent, so an empty body becomes "{}" first.
  api.use("/tools/health-check", async function emptyBodyIsEmptyObject(c, next) {
    const raw = c.req.raw;
    if (raw.method === "POST" && raw.body !== null && (await raw.clone().text()).trim() === "") {
      c.req.raw = new Request(raw.url, { method: "POST", headers: raw.headers, body: "{}", signal: raw.signal });
    }
    await next();
  });

  api.openapi(
    createRoute({
      method: "post",
      path: "/tools/health-check",
      tags: ["validation"],
      summary:
        "Run every tool's --health-check in the workspace of one tenant (tenant_id) or of every ACTIVE tenant, plus the server-side tools' checks (\"send_email (server-side)\")",
      request: { body: jsonBody(HealthCheckBody, false) },
      responses: {
        200: jsonResponse(HealthReport, "Per tenant, per tool"),
        ...errorResponses(400, 401, 404, 409, 415),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const one = body.tenant_id ? await requireTenant(ctx.db, body.tenant_id) : null;
      if (one) await assertOwnedHere(ctx, one); // 409 wrong_instance (fly-replay) when its workspace is elsewhere
      // Without tenant_id: the ACTIVE tenants whose workspaces are on this instance (each instance checks its own).
      const targets = one ? [one] : (await activeTenants(ctx)).filter((t) => isOwnedHere(ctx.config, t));
      const tenants = await mapLimited(targets, HEALTH_CONCURRENCY, async (t): Promise<TenantHealth> => {
        try {
          const tools = [...(await runToolHealthChecks(ctx, t.id)), ...(await runServerSideToolChecks(ctx, t.id))];
          return { tenant_id: t.id, name: t.name, ok: tools.every((r) => r.status !== "failed"), tools };
        } catch (err) {
          // One tenant's unreadable vault or workspace (an AppError, or e.g. EISDIR when its .env is a directory)
          // must not hide the others' results.
          ctx.log.warn("tool health checks could not run", { tenantId: t.id, error: err as Error });
          const error = err instanceof AppError ? `${err.code}: ${err.message}` : errorMessage(err);
          return { tenant_id: t.id, name: t.name, ok: false, error, tools: [] };
        }
      });
      return c.json({ ok: tenants.every((t) => t.ok), tenants }, 200);
    },
  );
}

async function activeTenants(ctx: AppContext): Promise<Tenant[]> {
  const all: Tenant[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await listTenants(ctx.db, { status: "ACTIVE", limit: 500, offset });
    all.push(...page.tenants);
    if (page.tenants.length < 500) return all;
  }
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
