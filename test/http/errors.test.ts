import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { DatabaseBusyError } from "../../src/db/client.ts";
import { createErrorHandler } from "../../src/http/app.ts";
import { createLogger } from "../../src/log.ts";

describe("createErrorHandler", () => {
  const app = new Hono();
  app.onError(createErrorHandler(createLogger({ level: "error", write: () => {} })));
  app.get("/busy", () => {
    throw new DatabaseBusyError(4000, {
      cause: Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" }),
    });
  });
  app.get("/raw-busy", () => {
    throw new Error("Failed query: insert …", {
      cause: Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" }),
    });
  });

  test("a busy database is 503 database_busy with Retry-After, not a 500", async () => {
    for (const path of ["/busy", "/raw-busy"]) {
      const res = await app.request(path);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("database_busy");
    }
  });
});
