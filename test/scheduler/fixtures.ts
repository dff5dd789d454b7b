import { afterEach, beforeEach } from "bun:test";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import type { AppContext } from "../../src/context.ts";
import type { DriverKind, TaskRow } from "../../src/db/index.ts";
import { schema } from "../../src/db/index.ts";
import type { SchedulerDeps } from "../../src/scheduler/task-runs.ts";
import type { ProcessResult, TestContext } from "../helpers/index.ts";
import {
  createTestContext,
  FakeClock,
  insertTenant,
  REPO_ROOT,
  runProcess,
  TEST_ADMIN_KEY,
  TEST_CREDENTIALS_KEY,
} from "../helpers/index.ts";

export async function setTenant(
  ctx: AppContext,
  id: string,
  fields: Partial<Pick<typeof schema.tenants.$inferInsert, "status" | "onboarding_status">>,
): Promise<void> {
  await ctx.db.update(schema.tenants).set(fields).where(eq(schema.tenants.id, id));
}

export async function readTask(ctx: AppContext, id: string): Promise<TaskRow> {
  const [row] = await ctx.db.select().from(schema.scheduledTasks).where(eq(schema.scheduledTasks.id, id));
  if (!row) throw new Error(`no task ${id}`);
  return row;
}

/** One minute in ms. */
export const MIN = 60_000;

/** The query drivers the loop cases run on: bun:sqlite (embedded) and libSQL (as for a remote database). */
export const DRIVERS = ["bun-sqlite", "libsql"] as const;

/** What a scheduler loop case starts from. */
export interface SchedulerCase {
  t: TestContext;
  /** At 2026-11-26T08:59:00Z, a minute before the 09:00 slots. */
  clock: FakeClock;
  /** One ACTIVE, LIVE tenant in UTC. */
  tenantId: string;
}

/**
 * Registers the hooks that give each test of the enclosing describe a fresh case on `driver` (LEASE_TTL_MS 5 min)
 * and clean it up after; `use` receives each test's case before the test runs.
 */
export function freshCaseEachTest(driver: DriverKind, use: (fresh: SchedulerCase) => void): void {
  let current: SchedulerCase | undefined;
  beforeEach(async () => {
    const clock = new FakeClock(Date.parse("2026-11-26T08:59:00.000Z"));
    const t = await createTestContext({ clock, driver, env: { LEASE_TTL_MS: "300000" } });
    current = { t, clock, tenantId: (await insertTenant(t.ctx, { timezone: "UTC" })).id };
    use(current);
  });
  afterEach(() => current?.t.cleanup());
}

/**
 * Runs `bun <REPO_ROOT>/<file> ...args` in the repo over the test context's database and tenants folder (with the
 * test keys, PATH and `extra` as its whole environment) and collects its output and exit code.
 */
export function runRepoFile(
  t: TestContext,
  file: string,
  args: string[] = [],
  extra: Record<string, string> = {},
): Promise<ProcessResult> {
  return runProcess([process.execPath, join(REPO_ROOT, file), ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      DATA_DIR: join(t.dir, "data"),
      DATABASE_URL: t.ctx.config.DATABASE_URL, // the same database (a file in DATA_DIR, or TEST_DATABASE=libsql's sqld)
      TENANTS_DIR: join(t.dir, "tenants"),
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
      ...extra,
    },
  });
}

/** A stand-in for the conversation engine: records what was queued and the timeline notes. */
export function recordingDeps(options: { failEnqueue?: boolean } = {}) {
  const enqueued: { tenantId: string; taskId: string; prompt: string }[] = [];
  const notes: { tenantId: string; line: string }[] = [];
  const deps: SchedulerDeps = {
    async enqueueTask(tenant, task) {
      if (options.failEnqueue) throw new Error("queue unavailable");
      enqueued.push({ tenantId: tenant.id, ...task });
      return crypto.randomUUID();
    },
    appendTimeline(tenantId, line) {
      notes.push({ tenantId, line });
    },
  };
  return { deps, enqueued, notes };
}
