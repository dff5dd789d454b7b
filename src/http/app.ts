import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { AppContext } from "../context.ts";
import { databaseBusyResponse, isDatabaseUnavailable } from "../db/index.ts";
import { AppError, describeZodError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { RouteModule } from "../ports.ts";
import { errorResponse, requireAdminKey } from "./admin-key.ts";
import { HealthRegistry, mountHealth } from "./health.ts";
import { paceWebhooks } from "./ingest-pace.ts";

/** Largest request body any route accepts. */
export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * How many webhooks start their work per turn of the event loop (see paceWebhooks). In the fairness benchmark
 * (100 tenants bursting, 4 agent slots, 2 cores) 4 / 8 / 16 / 32 / unpaced gave a longest first-run wait of
 * 2.4 / 2.6 / 3.0 / 3.4 / 3.6 s; fewer per turn means smaller first batches (more runs), so 8.
 */
const WEBHOOKS_PER_LOOP_TURN = 8;
const MOVED_FILES_PATH = /^\/admin\/tenants\/[^/]+\/files\/[a-z]+$/;

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
  app.use("/webhooks/*", paceWebhooks(WEBHOOKS_PER_LOOP_TURN));
  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => {
      // The rest of the body is never read: close the connection instead of keeping it alive.
      c.header("Connection", "close");
      return errorResponse(c, 413, "payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`);
    },
  });
  // A moved tenant's files (PUT /admin/tenants/:id/files/:part, behind the admin key) are bounded by their own limit.
  app.use((c, next) => (MOVED_FILES_PATH.test(c.req.path) && c.req.method === "PUT" ? next() : limitBody(c, next)));
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

/** Maps thrown errors to JSON: a busy database to 503, AppError by its code and status, zod by field, anything else a logged 500. */
export function createErrorHandler(log: Logger) {
  return function onError(err: Error, c: Context): Response {
    if (isDatabaseUnavailable(err)) {
      log.warn("request refused: database busy", { method: c.req.method, path: c.req.path });
      return databaseBusyResponse(c);
    }
    if (err instanceof AppError) {
      for (const [name, value] of Object.entries(err.headers ?? {})) c.header(name, value);
      return errorResponse(c, err.status, err.code, err.message);
    }
    if (err instanceof z.ZodError) return errorResponse(c, 400, "invalid_input", describeZodError(err));
    if (err instanceof SyntaxError) return errorResponse(c, 400, "invalid_json", "The request body is not valid JSON.");
    if (err instanceof HTTPException) {
      if (err.res) return err.res;
      // hono's own validators throw this for a body that is not JSON.
      if (err.status === 400 && /malformed json/i.test(err.message)) {
        return errorResponse(c, 400, "invalid_json", "The request body is not valid JSON.");
      }
      return errorResponse(
        c,
        err.status as ContentfulStatusCode,
        codeForStatus(err.status),
        err.message || "Request failed.",
      );
    }
    // The stack goes to the log (redacted like every line), never into the answer.
    log.error("unhandled error", { method: c.req.method, path: c.req.path, error: err, stack: err.stack });
    return errorResponse(c, 500, "internal_error", "Something went wrong on our side; it has been logged.");
  };
}

function codeForStatus(status: number): string {
  if (status === 401) return "unauthorized";
  if (status === 404) return "not_found";
  if (status === 413) return "payload_too_large";
  return "bad_request";
}
