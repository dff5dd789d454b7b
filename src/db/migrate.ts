import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { Database, Db } from "./client.ts";
import { embeddedMigrations } from "./migrations.gen.ts";

/** The embedded migrations in drizzle's own shape (same hashes as drizzle's folder reader). */
export function migrationMeta(): MigrationMeta[] {
  return embeddedMigrations.map((m) => ({
    sql: m.sql.split("--> statement-breakpoint"),
    bps: m.breakpoints,
    folderMillis: m.when,
    hash: createHash("sha256").update(m.sql).digest("hex"),
  }));
}

/** Applies every migration not yet applied; returns how many ran. Safe to call on every start. */
export async function migrateDatabase(database: Database): Promise<number> {
  const migrations = migrationMeta();
  const { db } = database;
  await db.run(
    sql`CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
  );
  return database.kind === "bun-sqlite" ? migrateLocal(db, migrations) : migrateLibsql(db, migrations);
}

/** Where the database stands against this build's migrations (read-only: `proxystaff doctor`). */
export interface MigrationStatus {
  /** Migrations embedded in this build. */
  total: number;
  /** Of those, not applied yet (all of them on a fresh database). */
  pending: number;
  /** The database has a migration newer than any in this build (written by a newer version). */
  isAhead: boolean;
}

/** Reads the migration state without changing anything (no table yet = everything pending). */
export async function migrationStatus(database: Database): Promise<MigrationStatus> {
  const migrations = migrationMeta();
  const { db } = database;
  const [table] = await db.all<{ n: number }>(
    sql`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'`,
  );
  if (!Number(table?.n)) return { total: migrations.length, pending: migrations.length, isAhead: false };
  const [last] = await db.all<{ created_at: number }>(
    sql`SELECT max(created_at) AS created_at FROM "__drizzle_migrations"`,
  );
  const newest = Math.max(0, ...migrations.map((m) => m.folderMillis));
  return {
    total: migrations.length,
    pending: (await pendingMigrations(db, migrations)).length,
    isAhead: last?.created_at != null && Number(last.created_at) > newest,
  };
}

/** The migrations newer than the last one recorded (drizzle's rule: by folder timestamp). */
async function pendingMigrations(db: Db, migrations: MigrationMeta[]): Promise<MigrationMeta[]> {
  const [last] = await db.all<{ created_at: number }>(
    sql`SELECT created_at FROM "__drizzle_migrations" ORDER BY created_at DESC LIMIT 1`,
  );
  return migrations.filter((m) => !last || Number(last.created_at) < m.folderMillis);
}

/**
 * Embedded SQLite: one write transaction taken up front (BEGIN IMMEDIATE waits out the busy
 * timeout for another writer), so a server starting while `proxystaff migrate` runs cannot apply
 * the same migration twice; what is pending is decided inside it.
 */
async function migrateLocal(db: Db, migrations: MigrationMeta[]): Promise<number> {
  await db.run(sql`BEGIN IMMEDIATE`);
  try {
    const pending = await pendingMigrations(db, migrations);
    for (const m of pending) {
      for (const statement of m.sql) if (statement.trim()) await db.run(sql.raw(statement));
      await db.run(
        sql`INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (${m.hash}, ${m.folderMillis})`,
      );
    }
    await db.run(sql`COMMIT`);
    return pending.length;
  } catch (err) {
    await db.run(sql`ROLLBACK`);
    throw err;
  }
}

/**
 * libSQL: drizzle's libsql migrator sends the statements as one batch (atomic on the server). What is pending is
 * read before the batch, so instances starting together on one database can send the same migrations: the server
 * runs the batches one after the other, and every one after the first fails (a table it creates already exists)
 * and is rolled back whole. That start then finds nothing pending any more and goes on; a failure that leaves
 * migrations pending is a real one and is thrown.
 */
async function migrateLibsql(db: Db, migrations: MigrationMeta[]): Promise<number> {
  const pending = await pendingMigrations(db, migrations);
  if (pending.length === 0) return 0;
  const session = (db as unknown as { session: { migrate(statements: unknown[]): Promise<void> } }).session;
  const statements = pending.flatMap((m) => [
    ...m.sql.filter((s) => s.trim()).map((s) => db.run(sql.raw(s))),
    db.run(sql`INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (${m.hash}, ${m.folderMillis})`),
  ]);
  try {
    await session.migrate(statements);
  } catch (err) {
    const stillPending = await pendingMigrations(db, migrations).catch(() => pending);
    if (stillPending.length > 0) throw err;
    return 0; // another instance applied the same migrations first
  }
  return pending.length;
}
