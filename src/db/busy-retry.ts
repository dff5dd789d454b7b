import { AppError } from "../errors.ts";
import type { Db } from "./client.ts";

/** Seconds a refused caller is told to wait (Retry-After) when the database stayed busy. */
export const DATABASE_BUSY_RETRY_AFTER_S = 2;

/**
 * Another process held the database's write lock for longer than a statement's retry budget.
 * Expected under a runbook `sqlite3` shell or a second server: answered 503 with Retry-After
 * (Telegram and Twilio deliver again), retried later by the loops.
 */
export class DatabaseBusyError extends AppError {
  override name = "DatabaseBusyError";
  constructor(readonly waitedMs: number, options?: ErrorOptions) {
    super("database_busy", "The database is busy (another process holds its write lock); retry shortly.", 503, options);
  }
}

/**
 * True when `err` (or an error it wraps: `cause`, grammY's BotError `error`) is SQLite's "database is
 * locked" (bun:sqlite's SQLiteError and libSQL's LibsqlError both carry code SQLITE_BUSY; drizzle wraps
 * libSQL's in a DrizzleQueryError) or a DatabaseBusyError.
 */
export function isDatabaseBusy(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (current instanceof DatabaseBusyError) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) return true;
    if (/database is locked/i.test(current.message)) return true;
    current = current.cause ?? (current as { error?: unknown }).error;
  }
  return false;
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
