import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../../context.ts";
import { ONBOARDING_STATUSES, TENANT_STATUSES } from "../../db/schema.ts";
import { archiveTenant, createTenant, listTenants, newTenantSchema, phoneSchema, purgeTenant, requireTenant, tenantPatchSchema, updateTenant } from "../../tenants/index.ts";
import { TenantIdParams, TenantSchema, errorResponses, jsonBody, jsonResponse } from "./api.ts";
import type { AdminApi } from "./api.ts";

/**
 * POST /tenants: newTenantSchema, strict (an unknown key is refused by name: a typo must not drop
 * data silently), with `phone_number` — the column name operators see in SQL — accepted for `phone`.
 */
const CreateTenantBody = newTenantSchema
  .extend({ phone: phoneSchema.optional(), phone_number: phoneSchema.optional() })
  .strict()
  .superRefine((body, issue) => {
    if (body.phone === undefined && body.phone_number === undefined) {
      issue.addIssue({ code: "custom", path: ["phone"], message: "required (E.164, e.g. +18015551234; phone_number is accepted too)" });
    } else if (body.phone !== undefined && body.phone_number !== undefined && body.phone !== body.phone_number) {
      issue.addIssue({ code: "custom", path: ["phone_number"], message: "differs from phone: give one of them" });
    }
  });

const ListQuery = z.object({
  status: z.enum(TENANT_STATUSES).optional(),
  onboarding_status: z.enum(ONBOARDING_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ description: "Page size (1-500, default 50)" }),
  offset: z.coerce.number().int().min(0).default(0).openapi({ description: "Rows to skip (default 0)" }),
});

const TenantPage = z
  .object({ tenants: z.array(TenantSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
  .openapi("TenantPage");

const DeleteQuery = z.object({
  purge: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: "true: after archiving, also delete the tenant's folder and every row of its data" }),
});

const DeleteResult = z
  .object({
    tenant: TenantSchema,
    purged: z.boolean(),
    removed: z.array(z.string()).openapi({ description: "What a purge removed (folder, rows per table)" }),
  })
  .openapi("TenantDeleteResult");

/** GET/POST /tenants, GET/PATCH/DELETE /tenants/:id. */
export function registerTenantRoutes(api: AdminApi, ctx: AppContext): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/tenants",
      tags: ["tenants"],
      summary: "List tenants (filter by status / onboarding_status; paginated, newest first)",
      request: { query: ListQuery },
      responses: { 200: jsonResponse(TenantPage, "A page of tenants"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const page = await listTenants(ctx.db, query);
      return c.json({ tenants: page.tenants, total: page.total, limit: query.limit, offset: query.offset }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/tenants",
      tags: ["tenants"],
      summary: "Create a tenant and its workspace",
      request: { body: jsonBody(CreateTenantBody) },
      responses: {
        201: jsonResponse(TenantSchema, "The new tenant"),
        ...errorResponses(400, 401, 409, 415),
      },
    }),
    async (c) => {
      const { phone, phone_number, ...rest } = c.req.valid("json");
      const tenant = await createTenant(ctx, { ...rest, phone: (phone ?? phone_number) as string });
      return c.json(tenant, 201);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/tenants/{id}",
      tags: ["tenants"],
      summary: "Read one tenant",
      request: { params: TenantIdParams },
      responses: { 200: jsonResponse(TenantSchema, "The tenant"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => c.json(await requireTenant(ctx.db, c.req.valid("param").id), 200),
  );

  api.openapi(
    createRoute({
      method: "patch",
      path: "/tenants/{id}",
      tags: ["tenants"],
      summary: "Update name, timezone, business profile or onboarding_status (re-renders CLAUDE.md)",
      request: { params: TenantIdParams, body: jsonBody(tenantPatchSchema) },
      responses: { 200: jsonResponse(TenantSchema, "The updated tenant"), ...errorResponses(400, 401, 404, 415) },
    }),
    async (c) => c.json(await updateTenant(ctx, c.req.valid("param").id, c.req.valid("json")), 200),
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: "/tenants/{id}",
      tags: ["tenants"],
      summary: "Archive a tenant; ?purge=true also removes its folder and data and says what it removed",
      request: { params: TenantIdParams, query: DeleteQuery },
      responses: { 200: jsonResponse(DeleteResult, "The archived tenant"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const tenant = await archiveTenant(ctx, id);
      if (c.req.valid("query").purge !== "true") return c.json({ tenant, purged: false, removed: [] }, 200);
      const { removed } = await purgeTenant(ctx, id);
      ctx.log.warn("tenant purged", { tenantId: id, removed });
      return c.json({ tenant, purged: true, removed }, 200);
    },
  );
}
