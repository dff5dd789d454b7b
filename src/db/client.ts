import { Database as BunDatabase } from "bun:sqlite";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { sql } from "drizzle-orm";
import { drizzle as drizzleBun } from "drizzle-orm/bun-sqlite";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import { createBusyRetry, retryBusyStatements } from "./busy-retry.ts";
import type { BusyRetryOptions } from "./busy-retry.ts";
import * as schema from "./schema.ts";

/**
 * How long one attempt waits for another writer's lock (PRAGMA busy_timeout). bun:sqlite waits
 * synchronously, blocking the event loop, so this stays short; longer waits are retried with timers.
 */
export const BUSY_TIMEOUT_MS = 50;

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
  /** How long one attempt waits for a lock (blocking, on bun:sqlite). Default BUSY_TIMEOUT_MS (50 ms). */
  busyTimeoutMs?: number;
  /** How statements that found the database locked are retried (budget, backoff). */
  busyRetry?: BusyRetryOptions;
}

/**
 * Opens the database named by DATABASE_URL (WAL, busy timeout and foreign keys for files). Every
 * statement retries SQLITE_BUSY with async backoff and fails with DatabaseBusyError past its budget
 * (see busy-retry.ts).
 */
export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  const isFile = url.startsWith("file:");
  const driver = options.driver ?? (isFile ? "bun-sqlite" : "libsql");
  const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
  const retry = createBusyRetry(options.busyRetry);
  const path = isFile ? filePath(url) : null;
  if (path) createPrivateDatabaseFile(path);

  if (driver === "bun-sqlite") {
    if (!path) throw new Error("bun:sqlite needs a file: DATABASE_URL");
    const sqlite = new BunDatabase(path, { create: true, strict: true });
    sqlite.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    sqlite.exec("PRAGMA journal_mode = WAL");
    sqlite.exec("PRAGMA synchronous = NORMAL");
    sqlite.exec("PRAGMA foreign_keys = ON");
    const db = drizzleBun(sqlite, { schema }) as unknown as Db;
    retryBusyStatements(db, retry);
    return { db, kind: "bun-sqlite", path, close: async () => sqlite.close() };
  }

  const { client, db } = await openLibsql(isFile ? `file:${path}` : url, options.authToken, isFile);
  if (isFile) {
    await client.execute(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    await client.execute("PRAGMA journal_mode = WAL");
  }
  await client.execute("PRAGMA foreign_keys = ON");
  retryBusyStatements(db, retry);
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

/**
 * Makes the database file private before SQLite opens it: folders it has to create are 0700 (an existing
 * one keeps its mode), and a new file is created empty with 0600 (an empty file is a valid new database).
 * SQLite creates `-wal` and `-shm` with the database file's permissions, so they are 0600 as well.
 */
function createPrivateDatabaseFile(path: string): void {
  if (path === ":memory:" || path === "") return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, "", { mode: 0o600, flag: "wx" });
  } catch (err) {
    // Already there (this or another process made it): SQLite opens it as it is; the start-up warns if it is readable by others.
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`cannot create the database file ${path}`, { cause: err });
  }
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
