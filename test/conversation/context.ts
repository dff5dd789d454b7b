import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../../src/clock.ts";
import { FakeClock } from "../helpers/context.ts";
import type { AppContext } from "../../src/context.ts";
import { openDatabase, migrateDatabase } from "../../src/db/index.ts";
import type { DriverKind } from "../../src/db/index.ts";
import { tenants } from "../../src/db/schema.ts";
import { silentLogger } from "../../src/log.ts";
import { createMetrics } from "../../src/metrics/index.ts";

export { FakeClock };
import { loadConfig } from "../../src/config.ts";

export interface TestContext extends AppContext {
  dir: string;
  cleanup(): Promise<void>;
}

/** A migrated database in a temp dir, a silent logger and (optionally) a fake clock. */
export async function makeTestContext(
  options: { clock?: Clock; env?: Record<string, string>; driver?: DriverKind; dir?: string } = {},
): Promise<TestContext> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "ps-conv-"));
  const config = loadConfig(
    {
      DATA_DIR: join(dir, "data"),
      TENANTS_DIR: join(dir, "tenants"),
      ADMIN_API_KEY: "a".repeat(24),
      CREDENTIALS_KEY: Buffer.alloc(32, 7).toString("base64"),
      ...options.env,
    },
    { generateSecrets: false },
  );
  const database = await openDatabase(config.DATABASE_URL, { driver: options.driver });
  await migrateDatabase(database);
  return {
    config,
    database,
    db: database.db,
    log: silentLogger,
    clock: options.clock ?? new FakeClock(),
    metrics: createMetrics(),
    dir,
    async cleanup() {
      await database.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Inserts a tenant row directly (the tenants module's own functions are tested elsewhere). */
export async function insertTenant(
  ctx: AppContext,
  fields: Partial<typeof tenants.$inferInsert> = {},
): Promise<typeof tenants.$inferSelect> {
  const id = fields.id ?? crypto.randomUUID();
  const rows = await ctx.db
    .insert(tenants)
    .values({
      id,
      name: "Acme Plumbing",
      phone_number: `+1801555${String(Math.floor(Math.random() * 10000)).padStart(4, "0")}`,
      channel: "telegram",
      ...fields,
    })
    .returning();
  return rows[0]!;
}
