import { Database as BunDatabase } from "bun:sqlite";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { sql } from "drizzle-orm";
import { drizzle as drizzleBun } from "drizzle-orm/bun-sqlite";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import type { Context } from "hono";
import { AppError } from "../errors.ts";
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
  /** How long a remote database's answer to one request may take. Default DATABASE_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
}

/**
 * How long one request to a remote (libSQL) database may go unanswered before its statement fails with
 * DatabaseTimeoutError: a wedged or unreachable server must not hold a webhook or a loop for good.
 */
export const DATABASE_REQUEST_TIMEOUT_MS = 30_000;

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
    // Switching a new file to WAL needs its lock for a moment: several processes opening one fresh database
    // at once (`migrate` run three times together) wait their turn like any busy statement.
    await retry("write", () => sqlite.exec("PRAGMA journal_mode = WAL"));
    sqlite.exec("PRAGMA synchronous = NORMAL");
    sqlite.exec("PRAGMA foreign_keys = ON");
    const forgetStatements = keepCompiledStatements(sqlite);
    const db = drizzleBun(sqlite, { schema }) as unknown as Db;
    retryBusyStatements(db, retry);
    const close = async () => {
      forgetStatements(); // else SQLite keeps a closed connection alive for them, and it still answers
      sqlite.close();
    };
    return { db, kind: "bun-sqlite", path, close };
  }

  const timeoutMs = options.requestTimeoutMs ?? DATABASE_REQUEST_TIMEOUT_MS;
  const { client, db } = await openLibsql(isFile ? `file:${path}` : url, options.authToken, isFile, timeoutMs);
  if (isFile) {
    await client.execute(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    await client.execute("PRAGMA journal_mode = WAL");
  }
  await client.execute("PRAGMA foreign_keys = ON");
  retryBusyStatements(db, retry);
  return { db, kind: "libsql", path, close: async () => client.close() };
}

/** How many compiled statements an embedded database keeps (the product runs a few hundred distinct ones). */
const COMPILED_STATEMENTS_KEPT = 1000;

/**
 * drizzle prepares every query it runs, and bun:sqlite's prepare() compiles the SQL each time; the compiled
 * statements are kept by their text instead (the oldest dropped past COMPILED_STATEMENTS_KEPT), which takes
 * SQLite's parse and plan off every statement of the hot path. Safe because a bun:sqlite statement runs to
 * completion synchronously and is reset before each use, so two uses of one never interleave. Returns the undo
 * (every kept statement finalized), for close.
 */
function keepCompiledStatements(sqlite: BunDatabase): () => void {
  const compile = sqlite.prepare.bind(sqlite);
  const kept = new Map<string, ReturnType<typeof compile>>();
  sqlite.prepare = ((query: string, ...rest: unknown[]) => {
    if (rest.length > 0) return compile(query, ...(rest as []));
    let statement = kept.get(query);
    if (!statement) {
      if (kept.size >= COMPILED_STATEMENTS_KEPT) kept.delete(kept.keys().next().value as string);
      statement = compile(query);
      kept.set(query, statement);
    }
    return statement;
  }) as typeof sqlite.prepare;
  return () => {
    sqlite.prepare = compile;
    for (const statement of kept.values()) statement.finalize();
    kept.clear();
  };
}

async function openLibsql(url: string, authToken: string | undefined, isFile: boolean, timeoutMs: number) {
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
  const client = createClient({ url, authToken, fetch: fetchWithTimeout(timeoutMs) });
  return { client, db: drizzle(client, { schema }) as unknown as Db };
}

/** The web client's fetch (it passes one Request), failing with DatabaseTimeoutError when no answer came in time. */
function fetchWithTimeout(timeoutMs: number): (request: Request) => Promise<Response> {
  return async (request) => {
    try {
      return await fetch(request, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      if (err instanceof Error && err.name === "TimeoutError")
        throw new DatabaseTimeoutError(timeoutMs, { cause: err });
      throw err;
    }
  };
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
    if ((err as NodeJS.ErrnoException).code !== "EEXIST")
      throw new Error(`cannot create the database file ${path}`, { cause: err });
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

/** Seconds a refused caller is told to wait (Retry-After) when the database stayed busy. */
export const DATABASE_BUSY_RETRY_AFTER_S = 2;

/**
 * Another process held the database's write lock for longer than a statement's retry budget.
 * Expected under a runbook `sqlite3` shell or a second server: answered 503 with Retry-After
 * (Telegram and Twilio deliver again), retried later by the loops.
 */
export class DatabaseBusyError extends AppError {
  override name = "DatabaseBusyError";
  constructor(
    readonly waitedMs: number,
    options?: ErrorOptions,
  ) {
    super("database_busy", "The database is busy (another process holds its write lock); retry shortly.", 503, options);
  }
}

/**
 * A remote database did not answer one request within DATABASE_REQUEST_TIMEOUT_MS. Unlike a busy error the
 * statement may have run, so it is not retried; callers answer 503 like busy (a redelivered webhook is deduped).
 */
export class DatabaseTimeoutError extends AppError {
  override name = "DatabaseTimeoutError";
  constructor(timeoutMs: number, options?: ErrorOptions) {
    super("database_unavailable", `The database did not answer within ${timeoutMs} ms.`, 503, options);
  }
}

/** `err` and the errors it wraps (`cause`, grammY's BotError `error`), outermost first. */
function* errorChain(err: unknown): Generator<Error> {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    yield current;
    current = current.cause ?? (current as { error?: unknown }).error;
  }
}

/**
 * True when `err` (or an error it wraps) says the statement did not run and may simply be tried again:
 * SQLite's "database is locked" (bun:sqlite's SQLiteError and libSQL's LibsqlError both carry code SQLITE_BUSY;
 * drizzle wraps libSQL's in a DrizzleQueryError), a libSQL server answering HTTP 429 (all its connections in
 * use), or a DatabaseBusyError.
 */
export function isDatabaseBusy(err: unknown): boolean {
  for (const current of errorChain(err)) {
    if (current instanceof DatabaseBusyError) return true;
    const { code, status } = current as { code?: unknown; status?: unknown };
    if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) return true;
    if (status === 429 && current.name === "HttpServerError") return true; // libSQL's HTTP client, not another API
    if (/database is locked/i.test(current.message)) return true;
  }
  return false;
}

/** Busy (see isDatabaseBusy) or not answering in time (DatabaseTimeoutError): answered 503 with Retry-After. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (isDatabaseBusy(err)) return true;
  for (const current of errorChain(err)) if (current instanceof DatabaseTimeoutError) return true;
  return false;
}

/**
 * 503 database_busy with Retry-After, in the one error body shape ({"error":{"code","message"}}): another
 * process held the database's write lock past the retry budget (nothing was stored), or a remote database did
 * not answer in time; a webhook sender (Telegram, Twilio) delivers again and dedupe keeps one copy. Here, beside
 * the checks, so webhooks and the HTTP app answer alike.
 */
export function databaseBusyResponse(c: Context): Response {
  c.header("Retry-After", String(DATABASE_BUSY_RETRY_AFTER_S));
  return c.json(
    { error: { code: "database_busy", message: "The database is busy or not answering; retry shortly." } },
    503,
  );
}

export interface BusyRetryOptions {
  /** How long one statement keeps trying before DatabaseBusyError. Default 4000 ms (webhooks then answer 503). */
  budgetMs?: number;
  /** First pause between attempts; doubles up to maxDelayMs. Default 20 ms. */
  minDelayMs?: number;
  /** Longest pause between attempts. Default 250 ms. */
  maxDelayMs?: number;
  /** Time source (tests). Default Date.now. */
  now?: () => number;
  /** Pause (tests). Default Bun.sleep. */
  sleep?: (ms: number) => Promise<unknown>;
}

/** Runs one statement, retrying SQLITE_BUSY asynchronously; a write or a read (reads never queue behind writes). */
export type BusyRetry = <T>(kind: "read" | "write", attempt: () => T | Promise<T>) => Promise<T>;

/**
 * The retry policy behind every statement (see retryBusyStatements). bun:sqlite is synchronous: each
 * attempt blocks the event loop for at most PRAGMA busy_timeout, so the waiting between attempts is
 * done here with timers, leaving the loop free for /health and webhooks. While a write has found the
 * lock held (and none succeeded since), later writes skip their own blocking attempt and queue behind
 * ONE probing writer, so N waiting writers cost one busy timeout per pause, not N. A queued write
 * whose budget ran out while it waited fails without another attempt.
 */
export function createBusyRetry(options: BusyRetryOptions = {}): BusyRetry {
  const budgetMs = options.budgetMs ?? 4000;
  const minDelayMs = options.minDelayMs ?? 20;
  const maxDelayMs = options.maxDelayMs ?? 250;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => Bun.sleep(ms));
  let isLocked = false;
  let queue: Promise<unknown> = Promise.resolve();

  async function retryUntil<T>(attempt: () => T | Promise<T>, startedAt: number, firstError: unknown): Promise<T> {
    let delay = minDelayMs;
    let lastError = firstError;
    for (;;) {
      if (isLocked || lastError !== undefined) {
        const left = startedAt + budgetMs - now();
        if (left <= 0) throw new DatabaseBusyError(now() - startedAt, { cause: lastError });
        await sleep(Math.min(delay, left));
        delay = Math.min(delay * 2, maxDelayMs);
      }
      try {
        const result = await attempt();
        isLocked = false;
        return result;
      } catch (err) {
        if (!isDatabaseBusy(err)) throw err;
        isLocked = true;
        lastError = err;
      }
    }
  }

  return async function withBusyRetry<T>(kind: "read" | "write", attempt: () => T | Promise<T>): Promise<T> {
    const startedAt = now();
    if (kind === "read" || !isLocked) {
      try {
        return await attempt();
      } catch (err) {
        if (!isDatabaseBusy(err)) throw err;
        if (kind === "read") return retryRead(attempt, startedAt, err);
        isLocked = true;
      }
    }
    const turn = queue.then(() => retryUntil(attempt, startedAt, undefined));
    queue = turn.catch(() => {}); // the caller gets the rejection; the queue only orders the turns
    return turn;
  };

  async function retryRead<T>(attempt: () => T | Promise<T>, startedAt: number, firstError: unknown): Promise<T> {
    let delay = minDelayMs;
    let lastError = firstError;
    for (;;) {
      const left = startedAt + budgetMs - now();
      if (left <= 0) throw new DatabaseBusyError(now() - startedAt, { cause: lastError });
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, maxDelayMs);
      try {
        return await attempt();
      } catch (err) {
        if (!isDatabaseBusy(err)) throw err;
        lastError = err;
      }
    }
  }
}

type StatementMethod = "run" | "all" | "get" | "values";
const STATEMENT_METHODS: ReadonlySet<string | symbol> = new Set<StatementMethod>(["run", "all", "get", "values"]);

interface PreparedStatement {
  run(...args: unknown[]): unknown;
  all(...args: unknown[]): unknown;
  get(...args: unknown[]): unknown;
  values(...args: unknown[]): unknown;
}

interface DrizzleSession {
  prepareQuery(query: { sql: string }, ...rest: unknown[]): PreparedStatement;
}

/**
 * Routes every statement of `db` through `retry` by wrapping drizzle's session.prepareQuery (the one
 * point all query builders, db.run/all/get and the libSQL session go through). Each statement then
 * answers a Promise, also on bun:sqlite: the code awaits every query already (Db covers both drivers),
 * but drizzle's synchronous bun:sqlite `db.transaction(cb)` cannot be used on this db — write a single
 * conditional statement instead (as the lease and queue code does).
 */
export function retryBusyStatements(db: Db, retry: BusyRetry): void {
  const session = (db as unknown as { session: DrizzleSession }).session;
  const prepare = session.prepareQuery.bind(session);
  session.prepareQuery = (query, ...rest) => {
    const prepared = prepare(query, ...rest);
    const kind = /^\s*select\b/i.test(query.sql) ? "read" : "write";
    return new Proxy(prepared, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (!STATEMENT_METHODS.has(property) || typeof value !== "function") return value;
        // Called on the target, so the statement's own inner calls (all → values) are not retried twice.
        return (...args: unknown[]) => retry(kind, () => (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
  };
}
