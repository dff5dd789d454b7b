import type { MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import { errorResponse } from "./errors.ts";

/** Guards a route with `Authorization: Bearer <key>`, compared in constant time; 401 JSON otherwise. */
export function requireAdminKey(adminKey: string): MiddlewareHandler {
  return async function adminAuth(c, next) {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    const ok = match?.[1] !== undefined && (await timingSafeEqual(adminKey, match[1]));
    if (!ok) {
      const message = header ? "The admin API key is wrong." : "Missing Authorization: Bearer <ADMIN_API_KEY> header.";
      c.header("WWW-Authenticate", 'Bearer realm="proxystaff-admin"');
      return errorResponse(c, 401, "unauthorized", message);
    }
    await next();
  };
}
