import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { Database } from "./client.ts";
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
  await db.run(sql`CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric)`);
  const [last] = await db.all<{ created_at: number }>(
    sql`SELECT created_at FROM "__drizzle_migrations" ORDER BY created_at DESC LIMIT 1`,
  );
  const pending = migrations.filter((m) => !last || Number(last.created_at) < m.folderMillis);
  if (pending.length === 0) return 0;

  const internals = db as unknown as {
    dialect: { migrate(m: MigrationMeta[], s: unknown, c: object): unknown };
    session: { migrate(statements: unknown[]): Promise<void> };
  };
  if (database.kind === "bun-sqlite") {
    // drizzle's own SQLite migrator: one transaction, records each migration's hash.
    await internals.dialect.migrate(migrations, internals.session, {});
  } else {
    // libSQL: drizzle's libsql migrator sends the statements as one batch (atomic on the server).
    const statements = pending.flatMap((m) => [
      ...m.sql.map((s) => db.run(sql.raw(s))),
      db.run(sql`INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (${m.hash}, ${m.folderMillis})`),
    ]);
    await internals.session.migrate(statements);
  }
  return pending.length;
}
