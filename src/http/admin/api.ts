import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import pkg from "../../../package.json" with { type: "json" };
import type { AppContext } from "../../context.ts";
import { CHANNELS, ONBOARDING_STATUSES, TENANT_STATUSES } from "../../db/schema.ts";
import { describeZodError } from "../../errors.ts";
import { errorResponse } from "../admin-key.ts";
import { createErrorHandler } from "../app.ts";

/** The OpenAPI sub-app every admin route group registers on. */
export type AdminApi = OpenAPIHono;

/**
 * A fresh OpenAPIHono for the admin routes: zod failures become
 * `{"error":{"code":"invalid_input","message":"<field>: <problem>"}}` (400), and the
 * validator's own HTTP errors (bad JSON, wrong Content-Type) get JSON bodies with clear codes.
 */
export function createAdminApi(ctx: AppContext): AdminApi {
  const api = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return errorResponse(c, 400, "invalid_input", describeZodError(result.error));
    },
  });
  const fallback = createErrorHandler(ctx.log);
  api.onError(function adminError(err: Error, c: Context) {
    if (err instanceof HTTPException && err.status === 415) {
      return errorResponse(
        c,
        415,
        "unsupported_media_type",
        "Send the body as JSON with Content-Type: application/json.",
      );
    }
    if (err instanceof HTTPException && err.status === 400 && /json/i.test(err.message)) {
      return errorResponse(c, 400, "invalid_json", "The request body is not valid JSON.");
    }
    return fallback(err, c);
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "adminKey", {
    type: "http",
    scheme: "bearer",
    description: "ADMIN_API_KEY",
  });
  return api;
}

/** Serves GET /openapi.json (under /admin): the OpenAPI 3.1 document built from the routes' own zod schemas. */
export function mountOpenApiDocument(api: AdminApi): void {
  api.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "ProxyStaff admin API",
      version: pkg.version,
      description:
        'Operator API for tenants, credentials, messages, sessions, scheduled tasks and validation. Every route needs `Authorization: Bearer $ADMIN_API_KEY`. Errors are `{"error":{"code","message"}}`.',
    },
    servers: [{ url: "/admin" }],
    security: [{ adminKey: [] }],
  });
}

/** The one error body of every admin route. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "tenant_not_found" }),
      message: z.string().openapi({ example: "No tenant with id 5b0c…" }),
    }),
  })
  .openapi("Error");

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `:id` of every tenant route: a UUID, so junk never reaches the database or the filesystem. */
export const TenantIdParams = z.object({
  id: z
    .string()
    .regex(UUID_PATTERN, "must be a tenant id (UUID)")
    .openapi({
      param: { name: "id", in: "path" },
      example: "5b0c8a52-3f0e-4c54-9d59-7a5c0a6f1e21",
    }),
});

export const TenantSchema = z
  .object({
    id: z.string().openapi({ format: "uuid" }),
    name: z.string(),
    phone_number: z.string().openapi({ example: "+18015551234" }),
    channel: z.enum(CHANNELS),
    telegram_chat_id: z.string().nullable(),
    status: z.enum(TENANT_STATUSES),
    onboarding_status: z.enum(ONBOARDING_STATUSES),
    timezone: z.string().openapi({ example: "America/Denver" }),
    business: z.record(z.string(), z.unknown()),
    monthly_budget_usd: z
      .number()
      .nullable()
      .openapi({ description: "Monthly model budget (USD); null = TENANT_MONTHLY_BUDGET_USD applies" }),
    instance_id: z
      .string()
      .nullable()
      .openapi({ description: "The instance holding the workspace (runs its turns and tasks); GET /admin/instances" }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Tenant");

/** A JSON error response for each listed status, for a route's `responses`. */
export function errorResponses<S extends number>(...statuses: S[]) {
  const describe: Record<number, string> = {
    400: "Invalid input (the message names the field)",
    401: "Missing or wrong admin key",
    404: "Not found",
    409: "Conflict (e.g. a tenant with that phone number exists)",
    415: "Content-Type is not application/json",
  };
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: describe[s] ?? "Error", content: { "application/json": { schema: ErrorSchema } } },
    ]),
  ) as Record<S, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
}

/** A 200 JSON response with this schema. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A JSON request body with this schema. */
export function jsonBody<T extends z.ZodType>(schema: T, required = true) {
  return { required, content: { "application/json": { schema } } };
}
