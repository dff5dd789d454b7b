import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { DATABASE_BUSY_RETRY_AFTER_S, isDatabaseBusy } from "../db/index.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** The one error body shape of every route: {"error":{"code","message"}}. */
export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  return c.json({ error: { code, message } }, status);
}

/**
 * 503 database_busy with Retry-After: another process held the database's write lock past the retry
 * budget. Nothing was stored; a webhook sender (Telegram, Twilio) delivers again.
 */
export function databaseBusyResponse(c: Context): Response {
  c.header("Retry-After", String(DATABASE_BUSY_RETRY_AFTER_S));
  return errorResponse(c, 503, "database_busy", "The database is busy; nothing was stored. Retry shortly.");
}

/** Maps thrown errors to JSON: a busy database to 503, AppError by its code and status, zod by field, anything else a logged 500. */
export function createErrorHandler(log: Logger) {
  return function onError(err: Error, c: Context): Response {
    if (isDatabaseBusy(err)) {
      log.warn("request refused: database busy", { method: c.req.method, path: c.req.path });
      return databaseBusyResponse(c);
    }
    if (err instanceof AppError) return errorResponse(c, err.status, err.code, err.message);
    if (err instanceof z.ZodError) return errorResponse(c, 400, "invalid_input", describeZodError(err));
    if (err instanceof SyntaxError) return errorResponse(c, 400, "invalid_json", "The request body is not valid JSON.");
    if (err instanceof HTTPException) {
      if (err.res) return err.res;
      // hono's own validators throw this for a body that is not JSON.
      if (err.status === 400 && /malformed json/i.test(err.message)) {
        return errorResponse(c, 400, "invalid_json", "The request body is not valid JSON.");
      }
      return errorResponse(c, err.status as ContentfulStatusCode, codeForStatus(err.status), err.message || "Request failed.");
    }
    // The stack goes to the log (redacted like every line), never into the answer.
    log.error("unhandled error", { method: c.req.method, path: c.req.path, error: err, stack: err.stack });
    return errorResponse(c, 500, "internal_error", "Something went wrong on our side; it has been logged.");
  };
}

/** "field.path: message; other: message" */
export function describeZodError(err: z.ZodError): string {
  return err.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

function codeForStatus(status: number): string {
  if (status === 401) return "unauthorized";
  if (status === 404) return "not_found";
  if (status === 413) return "payload_too_large";
  return "bad_request";
}
