import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../../src/clock.ts";
import { loadConfig, platformSecrets } from "../../src/config.ts";
import type { AppContext } from "../../src/context.ts";
import type { DriverKind } from "../../src/db/index.ts";
import { createLogger } from "../../src/log.ts";
import { createContext } from "../../src/runtime.ts";
import { ON_LIBSQL, releaseTestDatabase, testDatabaseEnv } from "./test-database.ts";

/** The admin key every test context and spawned test server uses unless told otherwise. */
export const TEST_ADMIN_KEY = "test-admin-key-0123456789abcdef";
/** A valid 32-byte base64 CREDENTIALS_KEY for tests. */
export const TEST_CREDENTIALS_KEY = Buffer.alloc(32, 7).toString("base64");

/**
 * The environment every test context and spawned test server starts from: PORT 0 on 127.0.0.1, DATA_DIR and
 * TENANTS_DIR under `dir`, the fixed TEST_ADMIN_KEY and TEST_CREDENTIALS_KEY.
 */
export function testEnv(dir: string): Record<string, string> {
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: join(dir, "data"),
    TENANTS_DIR: join(dir, "tenants"),
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
  };
}

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  constructor(public ms = Date.parse("2026-11-26T09:00:00.000Z")) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface TestContextOptions {
  /** Extra environment for loadConfig (merged over the test defaults below). */
  env?: Record<string, string>;
  /**
   * Run the query layer on this driver ("bun-sqlite" default, or "libsql" = native @libsql/client on the same file).
   * Ignored under TEST_DATABASE=libsql: the database is then a remote one, always on the libSQL web client.
   */
  driver?: DriverKind;
  /** Default: the real clock. Pass a FakeClock to move time by hand. */
  clock?: Clock;
  /**
   * Use this dir (another context's `dir`: a second "process" on the same database and workspaces)
   * instead of a new temp dir; cleanup() then leaves it in place. Default: a new temp dir.
   */
  dir?: string;
}

/** An AppContext on a fresh temp dir, plus what a test needs to look at and clean up. */
export interface TestContext {
  ctx: AppContext;
  /** The temp dir holding data/ (database, generated files) and tenants/. */
  dir: string;
  /** Every JSON log line the context's logger wrote (already redacted), parsed. */
  logs: Record<string, unknown>[];
  /** Closes the database and removes the temp dir (not a `dir` passed in). */
  cleanup(): Promise<void>;
}

/**
 * Builds a migrated database and a context in a temp dir, for in-process tests:
 * DATA_DIR/TENANTS_DIR under the temp dir, PORT 0, HOST 127.0.0.1, the fixed TEST_ADMIN_KEY and
 * TEST_CREDENTIALS_KEY, and a logger that records lines instead of printing them.
 *
 *   const t = await createTestContext();              // or { driver: "libsql", clock: new FakeClock() }
 *   try { … t.ctx.db … } finally { await t.cleanup(); }
 */
export async function createTestContext(options: TestContextOptions = {}): Promise<TestContext> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "proxystaff-test-"));
  // mkdtemp makes it 0700; agent runs and tool checks go as tenant uids, which must pass through it (as through an
  // operator's /var/lib above DATA_DIR and TENANTS_DIR).
  if (!options.dir) chmodSync(dir, 0o711);
  const base = testEnv(dir);
  // TEST_DATABASE=libsql: a fresh database on a real sqld (one per DATA_DIR: a context given another's dir shares it).
  const database = options.env?.DATABASE_URL ? {} : await testDatabaseEnv(options.env?.DATA_DIR ?? base.DATA_DIR!);
  const config = loadConfig({ ...base, ...database, ...options.env }, { generateSecrets: false });
  const logs: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "debug",
    redact: platformSecrets(config),
    write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  const driver = ON_LIBSQL && database.DATABASE_URL ? undefined : options.driver;
  const ctx = await createContext(config, { log, clock: options.clock, driver });
  return {
    ctx,
    dir,
    logs,
    async cleanup() {
      await ctx.database.close().catch(() => {}); // a test may have closed it already
      if (!options.dir) {
        await releaseTestDatabase(config.DATA_DIR);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
