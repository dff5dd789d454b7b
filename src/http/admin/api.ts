import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import pkg from "../../../package.json" with { type: "json" };
import type { AppContext } from "../../context.ts";
import { createErrorHandler, describeZodError, errorResponse } from "../errors.ts";

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
      return errorResponse(c, 415, "unsupported_media_type", "Send the body as JSON with Content-Type: application/json.");
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
        "Operator API for tenants, credentials, messages, sessions, scheduled tasks and validation. Every route needs `Authorization: Bearer $ADMIN_API_KEY`. Errors are `{\"error\":{\"code\",\"message\"}}`.",
    },
    servers: [{ url: "/admin" }],
    security: [{ adminKey: [] }],
  });
}
