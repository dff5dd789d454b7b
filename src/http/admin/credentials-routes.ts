import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../../context.ts";
import {
  CREDENTIAL_KEY_PATTERN,
  credentialRecordSchema,
  deleteCredential,
  listCredentials,
  setCredentials,
} from "../../credentials/index.ts";
import { NotFoundError } from "../../errors.ts";
import { requireMutableTenant, requireTenant } from "../../tenants/index.ts";
import type { AdminApi } from "./api.ts";
import { errorResponses, jsonBody, jsonResponse, TenantIdParams } from "./api.ts";

const SetCredentialsBody = z
  .object({
    // (Schemas built by other modules get no .openapi() call: they may predate the zod extension.)
    credentials: credentialRecordSchema.refine((r) => Object.keys(r).length > 0, "must name at least one credential"),
  })
  .openapi("SetCredentials", {
    example: { credentials: { SENDGRID_API_KEY: "SG.xxx", GOOGLE_CREDENTIALS_JSON: "{…}" } },
  });

const StoredKeys = z.object({ tenant_id: z.uuid(), keys: z.array(z.string()) }).openapi("StoredCredentialKeys");

const CredentialList = z
  .object({
    tenant_id: z.uuid(),
    credentials: z.array(
      z.object({
        key: z.string(),
        masked: z.string().openapi({ example: "••••x9Qz", description: "At most the last 4 characters" }),
        updated_at: z.string(),
      }),
    ),
  })
  .openapi("CredentialList");

const KeyParams = TenantIdParams.extend({
  key: z
    .string()
    .regex(CREDENTIAL_KEY_PATTERN, "must match ^[A-Z][A-Z0-9_]{0,63}$ (e.g. SENDGRID_API_KEY)")
    .openapi({ param: { name: "key", in: "path" }, example: "SENDGRID_API_KEY" }),
});

/** POST/GET /tenants/:id/credentials and DELETE /tenants/:id/credentials/:key (the runbook's curl). */
export function registerCredentialRoutes(api: AdminApi, ctx: AppContext): void {
  const path = "/tenants/{id}/credentials";
  api.openapi(
    createRoute({
      method: "post",
      path,
      tags: ["credentials"],
      summary:
        "Store credentials in the vault (merged with the existing ones); returns the stored key names. 409 tenant_archived for an archived tenant",
      request: { params: TenantIdParams, body: jsonBody(SetCredentialsBody) },
      responses: { 200: jsonResponse(StoredKeys, "Key names stored"), ...errorResponses(400, 401, 404, 409, 415) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await requireMutableTenant(ctx.db, id);
      const keys = await setCredentials(ctx, id, c.req.valid("json").credentials);
      ctx.log.info("credentials stored", { tenantId: id, keys });
      return c.json({ tenant_id: id, keys }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path,
      tags: ["credentials"],
      summary: "List credential keys with masked values and update times (never the values)",
      request: { params: TenantIdParams },
      responses: { 200: jsonResponse(CredentialList, "Keys, masked"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await requireTenant(ctx.db, id);
      return c.json({ tenant_id: id, credentials: await listCredentials(ctx, id) }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: `${path}/{key}`,
      tags: ["credentials"],
      summary: "Delete one credential",
      request: { params: KeyParams },
      responses: {
        200: jsonResponse(z.object({ tenant_id: z.uuid(), deleted: z.string() }), "Deleted"),
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const { id, key } = c.req.valid("param");
      await requireTenant(ctx.db, id);
      const deleted = await deleteCredential(ctx, id, key);
      if (!deleted) throw new NotFoundError("credential_not_found", `Tenant ${id} has no credential ${key}.`);
      ctx.log.info("credential deleted", { tenantId: id, key });
      return c.json({ tenant_id: id, deleted: key }, 200);
    },
  );
}
