// The database layer against a real libSQL server (sqld over HTTP, the web client a deployment uses), whatever
// TEST_DATABASE says: what differs from a file (no file, no ANALYZE, statements batched by the server).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { Database } from "../../src/db/index.ts";
import {
  isDatabaseBusy,
  isDatabaseUnavailable,
  migrateDatabase,
  migrationStatus,
  openDatabase,
} from "../../src/db/index.ts";
import { embeddedMigrations } from "../../src/db/migrations.gen.ts";
import type { SqldServer } from "../helpers/index.ts";
import { createTestContext, ON_LIBSQL, queryDatabase, skipWithoutSqld, startSqld } from "../helpers/index.ts";

describe.skipIf(skipWithoutSqld("the database layer on a libSQL server"))("a remote libSQL database (sqld)", () => {
  let sqld: SqldServer;
  const open: Database[] = [];
  beforeEach(async () => {
    sqld = await startSqld();
  });
  afterEach(async () => {
    for (const database of open.splice(0)) await database.close();
    await sqld.stop();
  });
  const connect = async () => {
    const database = await openDatabase(sqld.url);
    open.push(database);
    return database;
  };

  test("opens on the web client with no file; migrations apply once and the status reads them back", async () => {
    const database = await connect();
    expect({ kind: database.kind, path: database.path }).toEqual({ kind: "libsql", path: null });
    expect(await migrationStatus(database)).toEqual({
      total: embeddedMigrations.length,
      pending: embeddedMigrations.length,
      isAhead: false,
    });
    expect(await migrateDatabase(database)).toBe(embeddedMigrations.length);
    expect(await migrateDatabase(database)).toBe(0);
    expect(await migrationStatus(database)).toEqual({ total: embeddedMigrations.length, pending: 0, isAhead: false });
  });

  test("instances starting together on one fresh database: each start succeeds, every migration is applied once", async () => {
    const databases = await Promise.all([connect(), connect(), connect()]);
    const applied = await Promise.all(databases.map((database) => migrateDatabase(database)));
    expect(applied.reduce((a, b) => a + b, 0)).toBe(embeddedMigrations.length);
    const rows = await queryDatabase<{ n: number }>(sqld.url, "SELECT count(*) AS n FROM __drizzle_migrations");
    expect(rows[0]?.n).toBe(embeddedMigrations.length);
    for (const database of databases) expect((await migrationStatus(database)).pending).toBe(0);
  });

  test("RETURNING, upserts and integer/boolean/null columns come back as on the file", async () => {
    const database = await connect();
    await migrateDatabase(database);
    await database.db.run(sql`CREATE TABLE probe (id INTEGER PRIMARY KEY, flag INTEGER NOT NULL, note TEXT)`);
    const inserted = await database.db.all<{ id: number; flag: number; note: string | null }>(
      sql`INSERT INTO probe (flag, note) VALUES (1, NULL), (0, 'x') RETURNING id, flag, note`,
    );
    expect(inserted).toEqual([
      { id: 1, flag: 1, note: null },
      { id: 2, flag: 0, note: "x" },
    ]);
    const upserted = await database.db.all<{ id: number; note: string }>(
      sql`INSERT INTO probe (id, flag, note) VALUES (2, 1, 'y') ON CONFLICT (id) DO UPDATE SET note = excluded.note RETURNING id, note`,
    );
    expect(upserted).toEqual([{ id: 2, note: "y" }]);
    // A boolean parameter binds as 1, as bun:sqlite binds it (row 2 kept flag 0: the upsert set only the note).
    const flagged = await database.db.all<{ id: number }>(sql`SELECT id FROM probe WHERE flag = ${true}`);
    expect(flagged).toEqual([{ id: 1 }]);
  });
});

describe.skipIf(skipWithoutSqld("a libSQL server that refuses or stops answering"))(
  "a remote database in trouble",
  () => {
    let sqld: SqldServer;
    let mode: "forward" | "429" | "hang" = "forward";
    let proxy: ReturnType<typeof Bun.serve>;
    const hung: (() => void)[] = [];
    beforeEach(async () => {
      sqld = await startSqld();
      mode = "forward";
      // Between the client and sqld: passes requests on, or answers 429 (sqld with every connection in use),
      // or never answers (a wedged or unreachable server).
      proxy = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        async fetch(req) {
          if (mode === "429") return new Response("too many requests", { status: 429 });
          if (mode === "hang") return new Promise<Response>((resolve) => hung.push(() => resolve(new Response(null))));
          const url = new URL(req.url);
          const answer = await fetch(`${sqld.url}${url.pathname}${url.search}`, {
            method: req.method,
            headers: { "content-type": req.headers.get("content-type") ?? "application/json" },
            body: await req.arrayBuffer(),
          });
          return new Response(await answer.arrayBuffer(), {
            status: answer.status,
            headers: { "content-type": answer.headers.get("content-type") ?? "application/json" },
          });
        },
      });
    });
    afterEach(async () => {
      for (const release of hung.splice(0)) release();
      proxy.stop(true);
      await sqld.stop();
    });

    test("HTTP 429 is busy: the write is retried and lands once the server takes it", async () => {
      const database = await openDatabase(`http://127.0.0.1:${proxy.port}`, { busyRetry: { budgetMs: 3000 } });
      try {
        await database.db.run(sql`CREATE TABLE probe (n INTEGER)`);
        mode = "429";
        setTimeout(() => {
          mode = "forward";
        }, 300);
        await database.db.run(sql`INSERT INTO probe (n) VALUES (1)`);
        expect(await database.db.all(sql`SELECT n FROM probe`)).toEqual([{ n: 1 }]);
        mode = "429";
        const refused = await failure(async () => database.db.run(sql`INSERT INTO probe (n) VALUES (2)`));
        expect(isDatabaseBusy(refused)).toBe(true); // past the budget: DatabaseBusyError (503 at a webhook)
      } finally {
        mode = "forward";
        await database.close();
      }
    });

    test("a server that stops answering fails the statement after the request timeout, as unavailable (not retried)", async () => {
      const database = await openDatabase(`http://127.0.0.1:${proxy.port}`, { requestTimeoutMs: 300 });
      try {
        mode = "hang";
        const err = await failure(async () => database.db.run(sql`SELECT 1`)); // without the timeout: the test's own
        expect(isDatabaseUnavailable(err)).toBe(true);
        expect(isDatabaseBusy(err)).toBe(false); // it may have run: never retried
        expect(String(err)).not.toContain("undefined");
        expect(hung.length).toBe(1); // one request, not a retry loop
      } finally {
        mode = "forward";
        await database.close();
      }
    });
  },
);

/** What `run` threw (a failed test if it did not). */
async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error("expected the statement to fail");
}

describe("the TEST_DATABASE switch", () => {
  test("createTestContext's database is the one TEST_DATABASE names; a second context on its dir shares it", async () => {
    const t = await createTestContext();
    try {
      const url = t.ctx.config.DATABASE_URL;
      if (ON_LIBSQL) {
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect({ kind: t.ctx.database.kind, path: t.ctx.database.path }).toEqual({ kind: "libsql", path: null });
      } else {
        expect(url).toBe(`file:${t.dir}/data/proxystaff.db`);
        expect(t.ctx.database.kind).toBe("bun-sqlite");
      }
      await t.ctx.db.run(sql`CREATE TABLE shared_probe (v TEXT)`);
      await t.ctx.db.run(sql`INSERT INTO shared_probe (v) VALUES ('seen')`);
      const second = await createTestContext({ dir: t.dir });
      try {
        expect(second.ctx.config.DATABASE_URL).toBe(url);
        expect(await second.ctx.db.all(sql`SELECT v FROM shared_probe`)).toEqual([{ v: "seen" }]);
      } finally {
        await second.cleanup();
      }
    } finally {
      await t.cleanup();
    }
  });
});
