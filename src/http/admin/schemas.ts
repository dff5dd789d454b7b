import { z } from "@hono/zod-openapi";
import { CHANNELS, ONBOARDING_STATUSES, TENANT_STATUSES } from "../../db/schema.ts";

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
  id: z.string().regex(UUID_PATTERN, "must be a tenant id (UUID)").openapi({
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
    statuses.map((s) => [s, { description: describe[s] ?? "Error", content: { "application/json": { schema: ErrorSchema } } }]),
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
