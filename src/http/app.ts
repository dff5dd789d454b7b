import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppContext } from "../context.ts";
import { requireAdminKey } from "./admin-auth.ts";
import { createErrorHandler, errorResponse } from "./errors.ts";
import { HealthRegistry, mountHealth } from "./health.ts";

/** Largest request body any route accepts. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Routes a module adds to the app: webhooks, admin routes, /mcp, /metrics. */
export interface RouteModule {
  /** Mounted on the root app, before the 404 handler. */
  mount(app: Hono, admin: Hono): void;
}

export interface CreateAppOptions {
  health?: HealthRegistry;
  modules?: RouteModule[];
  /** When the process started, for uptime. Default: now. */
  startedAtMs?: number;
}

/** Assembles the HTTP app: logging, body limit, JSON errors, /health, /admin/* behind the key. */
export function createApp(ctx: AppContext, options: CreateAppOptions = {}): Hono {
  const app = new Hono();
  const health = options.health ?? new HealthRegistry();
  app.use(requestLog(ctx));
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => {
        // The rest of the body is never read: close the connection instead of keeping it alive.
        c.header("Connection", "close");
        return errorResponse(c, 413, "payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`);
      },
    }),
  );
  app.onError(createErrorHandler(ctx.log));
  app.notFound((c) => errorResponse(c, 404, "not_found", `No route for ${c.req.method} ${c.req.path}.`));

  mountHealth(app, ctx.db, health, options.startedAtMs ?? Date.now(), ctx.log);

  const admin = new Hono();
  admin.use(requireAdminKey(ctx.config.ADMIN_API_KEY));
  for (const module of options.modules ?? []) module.mount(app, admin);
  admin.all("*", (c) => errorResponse(c, 404, "not_found", `No admin route for ${c.req.method} ${c.req.path}.`));
  app.route("/admin", admin);
  return app;
}

function requestLog(ctx: AppContext): MiddlewareHandler {
  return async function logRequest(c, next) {
    const started = performance.now();
    await next();
    ctx.log.info("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
    });
  };
}
