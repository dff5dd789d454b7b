// The database layer against a real libSQL server (sqld over HTTP, the web client a deployment uses), whatever
// TEST_DATABASE says: what differs from a file (no file, no ANALYZE, statements batched by the server).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { Database } from "../../src/db/index.ts";
import { migrateDatabase, migrationStatus, openDatabase } from "../../src/db/index.ts";
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
