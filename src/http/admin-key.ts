import type { Context, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { isSameSecret } from "../run-tokens.ts";

/**
 * Guards a route with `Authorization: Bearer <key>`. The comparison runs in constant time (both
 * sides are hashed to the same length first, so not even the key's length leaks). A missing,
 * malformed or wrong header is answered 401 `{"error":{"code":"unauthorized",…}}`.
 */
export function requireAdminKey(adminKey: string): MiddlewareHandler {
  return async function adminAuth(c, next) {
    const header = c.req.header("authorization");
    const presented = header === undefined ? undefined : /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (presented === undefined || !isSameSecret(adminKey, presented)) {
      c.header("WWW-Authenticate", 'Bearer realm="proxystaff-admin"');
      return errorResponse(c, 401, "unauthorized", explain(header, presented));
    }
    await next();
  };
}

/** Whether `presented` is the admin key, compared in constant time (the console's sign-in uses it too). */
export function isAdminKey(adminKey: string, presented: string): boolean {
  return isSameSecret(adminKey, presented);
}

function explain(header: string | undefined, presented: string | undefined): string {
  if (header === undefined) return "Missing Authorization: Bearer <ADMIN_API_KEY> header.";
  if (presented === undefined) return "The Authorization header must be exactly `Bearer <ADMIN_API_KEY>`.";
  return "The admin API key is wrong.";
}

/** The one error body shape of every route: {"error":{"code","message"}}. */
export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  return c.json({ error: { code, message } }, status);
}
