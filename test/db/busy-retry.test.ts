// A write lock held by another connection (the runbook's sqlite3 shell, a second server) must not block
// the event loop: statements retry SQLITE_BUSY with timers and fail as DatabaseBusyError past their budget.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { createBusyRetry, DatabaseBusyError } from "../../src/db/client.ts";
import type { Database, DriverKind } from "../../src/db/index.ts";
import { isDatabaseBusy, migrateDatabase, openDatabase, schema } from "../../src/db/index.ts";
import { holdWriteLock, insertTenant } from "../helpers/index.ts";

const DRIVERS: DriverKind[] = ["bun-sqlite", "libsql"];

/** Largest gap between 10 ms ticks while `work` runs: how long the event loop was blocked. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const t = performance.now();
    stallMs = Math.max(stallMs, t - last);
    last = t;
  }, 10);
  try {
    await Bun.sleep(30); // ticking before the work starts (bun:sqlite blocks from the first call)
    const result = await work();
    return { result, stallMs: Math.max(stallMs, performance.now() - last) };
  } finally {
    clearInterval(timer);
  }
}

for (const driver of DRIVERS) {
  describe(`busy retry on ${driver}`, () => {
    let dir: string;
    let database: Database;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "ps-busy-"));
      database = await openDatabase(`file:${join(dir, "db")}`, { driver, busyRetry: { budgetMs: 2500 } });
      await migrateDatabase(database);
    });
    afterEach(async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const insertTenantRow = (id: string) =>
      insertTenant({ db: database.db }, { id, name: id, phone_number: `+1801555${id.padStart(4, "0")}` });

    test("a write waiting for another connection's lock leaves the event loop free and lands once the lock is gone", async () => {
      const lock = await holdWriteLock(join(dir, "db"), 1200);
      const { stallMs } = await longestStall(() =>
        Promise.all([insertTenantRow("1"), insertTenantRow("2"), insertTenantRow("3")]),
      );
      await lock.released;
      expect(stallMs).toBeLessThan(250); // was the whole lock (5 s busy_timeout, one synchronous wait per write)
      expect((await database.db.select().from(schema.tenants)).map((t) => t.id).sort()).toEqual(["1", "2", "3"]);
    });

    test("reads go on while another connection holds the write lock", async () => {
      await insertTenantRow("1");
      const lock = await holdWriteLock(join(dir, "db"), 5000);
      try {
        const started = performance.now();
        expect(await database.db.all(sql`SELECT count(*) AS n FROM tenants`)).toEqual([{ n: 1 }]);
        expect(performance.now() - started).toBeLessThan(100);
      } finally {
        lock.release();
        await lock.released;
      }
    });

    test("a lock held past the budget fails the write with DatabaseBusyError (503), nothing half-written", async () => {
      const lock = await holdWriteLock(join(dir, "db"), 10_000);
      try {
        const started = performance.now();
        const err = await insertTenantRow("1").then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(DatabaseBusyError);
        expect((err as DatabaseBusyError).status).toBe(503);
        expect((err as DatabaseBusyError).code).toBe("database_busy");
        expect(performance.now() - started).toBeGreaterThanOrEqual(2400);
      } finally {
        lock.release();
        await lock.released;
      }
      expect(await database.db.select().from(schema.tenants)).toEqual([]);
      await insertTenantRow("1"); // and the next write goes through at once
      expect(await database.db.select().from(schema.tenants)).toHaveLength(1);
    });
  });
}

describe("createBusyRetry", () => {
  const busy = () => Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });

  test("queued writes wait behind one probing writer, and fail without an attempt once their budget is spent", async () => {
    let attempts = 0;
    const retry = createBusyRetry({ budgetMs: 300, minDelayMs: 10, maxDelayMs: 50 });
    const always = () => {
      attempts++;
      throw busy();
    };
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => retry("write", always)));
    expect(results.every((r) => r.status === "rejected" && r.reason instanceof DatabaseBusyError)).toBe(true);
    // One first attempt, then one probe per pause (~10 in 300 ms) — not 20 writers × their own retries.
    expect(attempts).toBeLessThan(20);
  });

  test("other errors are not retried; busy is recognised through wrappers", async () => {
    const retry = createBusyRetry();
    let attempts = 0;
    const err = await retry("write", () => {
      attempts++;
      throw new Error("UNIQUE constraint failed");
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("UNIQUE constraint failed");
    expect(attempts).toBe(1);
    expect(isDatabaseBusy(new Error("Failed query", { cause: busy() }))).toBe(true);
    expect(isDatabaseBusy(Object.assign(new Error("bot error"), { error: new DatabaseBusyError(10) }))).toBe(true);
    expect(isDatabaseBusy(new Error("other"))).toBe(false);
  });
});
