// The one switch between the two database drivers the suite runs on: TEST_DATABASE=file (default: the embedded
// SQLite file in DATA_DIR, bun:sqlite) or TEST_DATABASE=libsql (a real libSQL server, sqld, over HTTP).
import { Database } from "bun:sqlite";
import { resolve } from "node:path";
import { createClient } from "@libsql/client/web";
import { z } from "zod";
import type { SqldServer } from "./sqld.ts";
import { startSqld } from "./sqld.ts";

const parsed = z
  .enum(["file", "libsql"])
  .default("file")
  .safeParse(process.env.TEST_DATABASE || undefined);
if (!parsed.success) throw new Error(`TEST_DATABASE must be "file" or "libsql", not ${process.env.TEST_DATABASE}`);

/** Which database the helpers give tests: "file" (bun:sqlite on $DATA_DIR/proxystaff.db) or "libsql" (sqld). */
export const TEST_DATABASE: "file" | "libsql" = parsed.data;
/** True under TEST_DATABASE=libsql: every helper-made database is a fresh one on its own sqld. */
export const ON_LIBSQL = TEST_DATABASE === "libsql";

/**
 * Skips nothing itself: under TEST_DATABASE=libsql, logs why the test (or block) does not apply and returns true.
 *   test.skipIf(fileDatabaseOnly("holds the file's write lock from a second process"))("…", async () => { … });
 */
export function fileDatabaseOnly(why: string): boolean {
  if (ON_LIBSQL) console.warn(`skipped under TEST_DATABASE=libsql (file database only): ${why}`);
  return ON_LIBSQL;
}

// One sqld per DATA_DIR: what the file driver keeps in $DATA_DIR/proxystaff.db lives on that DATA_DIR's server, so
// two contexts or processes given the same DATA_DIR share one database, as they share the file. A sqld starts in
// ~0.1 s (measured: 60–130 ms on the loaded 2-core CI machine), cheaper than namespaces' admin calls and host names.
const servers = new Map<string, Promise<SqldServer>>();

/**
 * The environment that points a context or process with this DATA_DIR at its test database: `{}` for the file
 * database; under TEST_DATABASE=libsql `{ DATABASE_URL }` of the DATA_DIR's sqld, started on first use.
 */
export async function testDatabaseEnv(dataDir: string): Promise<Record<string, string>> {
  if (!ON_LIBSQL) return {};
  const key = resolve(dataDir);
  let server = servers.get(key);
  if (!server) {
    server = startSqld();
    servers.set(key, server);
    server.catch(() => servers.delete(key));
  }
  return { DATABASE_URL: (await server).url };
}

/** Stops the DATA_DIR's sqld (if one was started): called by the helper that owns the DATA_DIR's folder. */
export async function releaseTestDatabase(dataDir: string): Promise<void> {
  const key = resolve(dataDir);
  const server = servers.get(key);
  if (!server) return;
  servers.delete(key);
  await (await server.catch(() => null))?.stop();
}

// Folders a test made itself (and shares between processes) are not released by any helper: their servers end
// with the test process (see startSqld: bun test runs no "exit" handlers).

/**
 * Runs one SQL statement on a database outside the process under test (as an operator's shell would) and returns
 * its rows as plain objects: `database` is a DATABASE_URL (`file:…`, `http://…`) or a plain file path.
 */
export async function queryDatabase<T = Record<string, unknown>>(
  database: string,
  statement: string,
  ...params: (string | number | null)[]
): Promise<T[]> {
  if (!/^(https?|libsql|wss?):/.test(database)) {
    const path = database.startsWith("file:") ? database.slice("file:".length) : database;
    const db = new Database(path);
    try {
      db.exec("PRAGMA busy_timeout = 5000");
      return db.query(statement).all(...params) as T[];
    } finally {
      db.close();
    }
  }
  const client = createClient({ url: database });
  try {
    const result = await client.execute({ sql: statement, args: params });
    return result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c, row[i]])) as T);
  } finally {
    client.close();
  }
}
