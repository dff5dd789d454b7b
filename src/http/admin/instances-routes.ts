import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../../context.ts";
import { ConflictError, ValidationError } from "../../errors.ts";
import { isOwnedHere, listInstances } from "../../instances/index.ts";
import { moveTenantOut } from "../../ops/move-tenant.ts";
import { receivePart, TENANT_FILE_PARTS } from "../../ops/tenant-files.ts";
import { requireTenant } from "../../tenants/index.ts";
import type { AdminApi } from "./api.ts";
import { errorResponses, jsonBody, jsonResponse, TenantIdParams } from "./api.ts";

const InstanceSchema = z
  .object({
    id: z.string().openapi({ example: "3d8d9e7b1c2e89" }),
    url: z.string().nullable(),
    version: z.string().nullable(),
    started_at: z.string(),
    last_seen_at: z.string(),
    up: z.boolean().openapi({ description: "seen within the last 60 s (heartbeat every 10 s)" }),
  })
  .openapi("Instance");

const InstanceList = z.object({ self: z.string(), instances: z.array(InstanceSchema) });

const MoveBody = z
  .object({ to: z.string().trim().min(1).max(100).openapi({ description: "the target instance id" }) })
  .strict();

const MoveReportSchema = z
  .object({
    tenant_id: z.string(),
    from: z.string(),
    to: z.string(),
    status: z.enum(["moved", "already_moved"]),
    bytes: z.number().int(),
    removed_local_copy: z.boolean(),
  })
  .openapi("MoveReport");

const FilesParams = TenantIdParams.extend({
  part: z.enum(TENANT_FILE_PARTS).openapi({ param: { name: "part", in: "path" } }),
});

const FilesHeaders = z.object({
  "x-content-sha256": z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits"),
  "x-source-workspace": z.string().min(1).max(4096).optional(),
});

/** GET /instances; POST /tenants/:id/move (on the owner); PUT /tenants/:id/files/:part (the target's half of a move). */
export function registerInstanceRoutes(api: AdminApi, ctx: AppContext): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/instances",
      tags: ["instances"],
      summary: "The instances sharing this database, each up (seen within 60 s) or down",
      responses: { 200: jsonResponse(InstanceList, "Every registered instance"), ...errorResponses(401) },
    }),
    async (c) => c.json({ self: ctx.config.INSTANCE_ID, instances: await listInstances(ctx.db, ctx.clock) }, 200),
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/tenants/{id}/move",
      tags: ["instances"],
      summary:
        "Move the tenant to another instance (call it on the owner; elsewhere 409 wrong_instance): holds its lease, sends the workspace and CLI directory, switches ownership, deletes the copy here. Safe to repeat.",
      request: { params: TenantIdParams, body: jsonBody(MoveBody) },
      responses: {
        200: jsonResponse(MoveReportSchema, "Moved (or already on the target: a copy left here was deleted)"),
        ...errorResponses(400, 401, 404, 409, 415),
        502: jsonResponse(
          z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
          "The target refused or failed",
        ),
      },
    }),
    async (c) => {
      const tenant = await requireTenant(ctx.db, c.req.valid("param").id);
      return c.json(await moveTenantOut(ctx, tenant, c.req.valid("json").to), 200);
    },
  );

  api.openapi(
    createRoute({
      method: "put",
      path: "/tenants/{id}/files/{part}",
      tags: ["instances"],
      summary:
        "The target's half of a move: the body is a tar (application/x-tar) of the tenant's workspace or CLI directory with its SHA-256 in x-content-sha256; unpacked in place of any earlier copy. Refused for a tenant this instance owns.",
      request: { params: FilesParams, headers: FilesHeaders },
      responses: {
        200: jsonResponse(
          z.object({ part: z.enum(TENANT_FILE_PARTS), bytes: z.number().int() }),
          "Received and unpacked",
        ),
        ...errorResponses(400, 401, 404, 409),
        413: jsonResponse(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), "Too large"),
        422: jsonResponse(
          z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
          "Checksum mismatch",
        ),
      },
    }),
    async (c) => {
      const { id, part } = c.req.valid("param");
      const headers = c.req.valid("header");
      const tenant = await requireTenant(ctx.db, id);
      // Never overwrite the live workspace of a tenant run here.
      if (isOwnedHere(ctx.config, tenant))
        throw new ConflictError(
          "tenant_owned_here",
          "This instance owns the tenant: its files are not replaced by a move.",
        );
      const body = c.req.raw.body;
      if (!body) throw new ValidationError("The body (a tar) is missing.", "invalid_input");
      const received = await receivePart(
        ctx,
        tenant,
        part,
        body,
        headers["x-content-sha256"],
        headers["x-source-workspace"] ?? null,
      );
      ctx.log.info("moved part received", { tenantId: id, part, bytes: received.bytes });
      return c.json({ part, bytes: received.bytes }, 200);
    },
  );
}
