import { Database as BunDatabase } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { sql } from "drizzle-orm";
import { drizzle as drizzleBun } from "drizzle-orm/bun-sqlite";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import * as schema from "./schema.ts";

/** The query layer's database: the same drizzle API over bun:sqlite or libSQL. */
export type Db = BaseSQLiteDatabase<"sync" | "async", unknown, typeof schema>;

export type DriverKind = "bun-sqlite" | "libsql";

/** An open database and how to close it. */
export interface Database {
  db: Db;
  kind: DriverKind;
  /** The file path for embedded SQLite (null for a remote database). */
  path: string | null;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  authToken?: string;
  /**
   * Force a driver. Default: `file:` URLs use bun:sqlite, remote URLs the libSQL web client.
   * Tests pass "libsql" with a `file:` URL to run the query layer on @libsql/client too.
   */
  driver?: DriverKind;
  /** How long a writer waits for a lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
}

/** Opens the database named by DATABASE_URL (WAL, busy timeout and foreign keys for files). */
export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  const isFile = url.startsWith("file:");
  const driver = options.driver ?? (isFile ? "bun-sqlite" : "libsql");
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const path = isFile ? filePath(url) : null;
  if (path) mkdirSync(dirname(path), { recursive: true });

  if (driver === "bun-sqlite") {
    if (!path) throw new Error("bun:sqlite needs a file: DATABASE_URL");
    const sqlite = new BunDatabase(path, { create: true, strict: true });
    sqlite.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    sqlite.exec("PRAGMA journal_mode = WAL");
    sqlite.exec("PRAGMA synchronous = NORMAL");
    sqlite.exec("PRAGMA foreign_keys = ON");
    const db = drizzleBun(sqlite, { schema }) as unknown as Db;
    return { db, kind: "bun-sqlite", path, close: async () => sqlite.close() };
  }

  const { client, db } = await openLibsql(isFile ? `file:${path}` : url, options.authToken, isFile);
  if (isFile) {
    await client.execute(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    await client.execute("PRAGMA journal_mode = WAL");
  }
  await client.execute("PRAGMA foreign_keys = ON");
  return { db, kind: "libsql", path, close: async () => client.close() };
}

async function openLibsql(url: string, authToken: string | undefined, isFile: boolean) {
  // drizzle's web entry only wraps a client object, so it serves the native client too and keeps
  // the native package out of the bundle.
  const { drizzle } = await import("drizzle-orm/libsql/web");
  if (isFile) {
    // The native client is the only one that opens file: URLs. Tests use it to run the query layer
    // on libSQL; it cannot load inside a compiled binary (its platform package is a .node addon),
    // so the specifier is a variable: the bundler leaves it alone and nothing loads it unless asked.
    const nativeClient = "@libsql/client";
    const { createClient } = (await import(nativeClient)) as typeof import("@libsql/client");
    const client = createClient({ url });
    return { client, db: drizzle(client, { schema }) as unknown as Db };
  }
  const { createClient } = await import("@libsql/client/web");
  const client = createClient({ url, authToken });
  return { client, db: drizzle(client, { schema }) as unknown as Db };
}

function filePath(url: string): string {
  return decodeURIComponent(url.slice("file:".length).replace(/^\/\/(?=\/)/, ""));
}

/**
 * True when the database answers a query that reads its schema (so a closed, unreadable or
 * corrupted database counts as down, not just a dead connection), within timeoutMs (default 2000).
 * Never throws: an error or a timeout is `false`.
 */
export async function pingDatabase(db: Db, timeoutMs = 2000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const query = (async () => {
    await db.all(sql`SELECT count(*) AS n FROM sqlite_master`);
    return true;
  })().catch(() => false); // /health reports it as db: "error"
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
