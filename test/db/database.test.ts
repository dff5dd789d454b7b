// The database layer on both drivers: bun:sqlite (the default) and @libsql/client (file: URL).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { BUSY_TIMEOUT_MS } from "../../src/db/client.ts";
import type { Database, Db, DriverKind } from "../../src/db/index.ts";
import { migrateDatabase, openDatabase, pingDatabase, schema } from "../../src/db/index.ts";
import { embeddedMigrations } from "../../src/db/migrations.gen.ts";

/** DESIGN "Data": every table and the columns the contract names (extra columns are allowed). */
const CONTRACT_COLUMNS: Record<string, string[]> = {
  tenants: [
    "id",
    "name",
    "phone_number",
    "channel",
    "telegram_chat_id",
    "status",
    "onboarding_status",
    "timezone",
    "business",
    "created_at",
    "updated_at",
  ],
  credentials: ["tenant_id", "key", "ciphertext", "iv", "tag", "key_version"],
  messages: [
    "id",
    "tenant_id",
    "direction",
    "channel",
    "chat_id",
    "external_id",
    "body",
    "media",
    "status",
    "attempts",
    "error",
    "created_at",
    "processed_at",
  ],
  conversation_sessions: ["tenant_id", "agent_session_id", "lease_owner", "lease_expires_at", "updated_at"],
  scheduled_tasks: [
    "id",
    "tenant_id",
    "prompt",
    "cron",
    "run_at",
    "timezone",
    "next_run_at",
    "status",
    "attempts",
    "last_error",
    "created_by",
    "created_at",
  ],
};

const DRIVERS: DriverKind[] = ["bun-sqlite", "libsql"];

for (const driver of DRIVERS) {
  describe(`database on ${driver}`, () => {
    let dir: string;
    let database: Database;
    const url = () => `file:${join(dir, "proxystaff.db")}`;
    const rows = <T>(query: ReturnType<typeof sql>) => database.db.all<T>(query);

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "ps-db-"));
      database = await openDatabase(url(), { driver });
    });
    afterEach(async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const tenant = (id: string, phone: string, chat: string | null = null) =>
      database.db
        .insert(schema.tenants)
        .values({ id, name: `T ${id}`, phone_number: phone, channel: "telegram", telegram_chat_id: chat });
    const inbound = (
      id: string,
      channel: "telegram" | "whatsapp",
      externalId: string,
      direction: "in" | "out" = "in",
    ) =>
      database.db.insert(schema.messages).values({
        id,
        tenant_id: "t1",
        direction,
        channel,
        chat_id: "c1",
        external_id: externalId,
        status: direction === "in" ? "queued" : "pending",
      });

    test("migrations apply once, then never again; bookkeeping matches drizzle's", async () => {
      expect(database.kind).toBe(driver);
      expect(await migrateDatabase(database)).toBe(embeddedMigrations.length);
      expect(await migrateDatabase(database)).toBe(0);
      const applied = await rows<{ hash: string; created_at: number }>(
        sql`SELECT hash, created_at FROM __drizzle_migrations ORDER BY id`,
      );
      expect(applied.map((r) => Number(r.created_at))).toEqual(embeddedMigrations.map((m) => m.when));
      expect(applied.every((r) => /^[0-9a-f]{64}$/.test(r.hash))).toBe(true);
    });

    test("every DESIGN table and column exists", async () => {
      await migrateDatabase(database);
      for (const [table, columns] of Object.entries(CONTRACT_COLUMNS)) {
        const info = await rows<{ name: string }>(sql.raw(`PRAGMA table_info(${table})`));
        expect(info.map((c) => c.name)).toEqual(expect.arrayContaining(columns));
      }
    });

    test("WAL, busy timeout and foreign keys are on", async () => {
      expect(await rows<{ journal_mode: string }>(sql`PRAGMA journal_mode`)).toEqual([{ journal_mode: "wal" }]);
      expect(await rows<{ foreign_keys: number }>(sql`PRAGMA foreign_keys`)).toEqual([{ foreign_keys: 1 }]);
      const [timeout] = await rows<Record<string, number>>(sql`PRAGMA busy_timeout`);
      expect(Object.values(timeout ?? {})[0]).toBe(BUSY_TIMEOUT_MS);
    });

    test("foreign keys are enforced and cascade", async () => {
      await migrateDatabase(database);
      await expect((async () => await inbound("m0", "telegram", "u0"))()).rejects.toThrow(); // tenant t1 does not exist yet
      await tenant("t1", "+18015550001");
      await database.db
        .insert(schema.credentials)
        .values({ tenant_id: "t1", key: "K", ciphertext: "c", iv: "i", tag: "t", key_version: "1" });
      await inbound("m1", "telegram", "u1");
      await database.db.delete(schema.tenants).where(eq(schema.tenants.id, "t1"));
      expect(await database.db.select().from(schema.credentials)).toEqual([]);
      expect(await database.db.select().from(schema.messages)).toEqual([]);
    });

    test("phone_number and telegram_chat_id are unique (many tenants may have no chat yet)", async () => {
      await migrateDatabase(database);
      await tenant("t1", "+18015550001", "chat-1");
      await tenant("t2", "+18015550002");
      await tenant("t3", "+18015550003");
      await expect((async () => await tenant("t4", "+18015550001"))()).rejects.toThrow();
      await expect((async () => await tenant("t5", "+18015550005", "chat-1"))()).rejects.toThrow();
      await expect(
        (async () =>
          await database.db
            .update(schema.tenants)
            .set({ telegram_chat_id: "chat-1" })
            .where(eq(schema.tenants.id, "t2")))(),
      ).rejects.toThrow();
      expect(await database.db.select().from(schema.tenants)).toHaveLength(3);
    });

    test("(channel, external_id) is unique for inbound messages only", async () => {
      await migrateDatabase(database);
      await tenant("t1", "+18015550001");
      await inbound("m1", "telegram", "42");
      await expect((async () => await inbound("m2", "telegram", "42"))()).rejects.toThrow();
      await inbound("m3", "whatsapp", "42"); // another channel's id space
      await inbound("m4", "telegram", "42", "out"); // replies are not deduplicated
      await inbound("m5", "telegram", "42", "out");
      const ids = (await database.db.select({ id: schema.messages.id }).from(schema.messages)).map((r) => r.id).sort();
      expect(ids).toEqual(["m1", "m3", "m4", "m5"]);
    });

    test("the query layer: insert with defaults, returning, conditional update, ISO timestamps", async () => {
      await migrateDatabase(database);
      const [row] = await tenant("t1", "+18015550001").returning();
      expect(row).toMatchObject({ status: "ACTIVE", onboarding_status: "DISCOVERY", timezone: "UTC", business: "{}" });
      expect(row?.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      await database.db.insert(schema.conversationSessions).values({ tenant_id: "t1" });
      // A lease taken with one conditional UPDATE: only one of two takers wins.
      const take = (owner: string) =>
        database.db
          .update(schema.conversationSessions)
          .set({ lease_owner: owner, lease_expires_at: "2999-01-01T00:00:00.000Z" })
          .where(
            sql`tenant_id = 't1' AND (lease_expires_at IS NULL OR lease_expires_at < ${"2026-11-26T00:00:00.000Z"})`,
          )
          .returning();
      expect(await take("a")).toHaveLength(1);
      expect(await take("b")).toHaveLength(0);
      // db.all() on no row is an empty list on both drivers.
      expect(await rows(sql`SELECT * FROM tenants WHERE id = 'none'`)).toEqual([]);
    });

    test("hot queries use their indexes", async () => {
      await migrateDatabase(database);
      const plan = async (query: string) =>
        (await rows<{ detail: string }>(sql.raw(`EXPLAIN QUERY PLAN ${query}`))).map((r) => r.detail).join(" | ");
      expect(
        await plan("SELECT * FROM messages WHERE tenant_id = 'x' AND status = 'queued' ORDER BY created_at"),
      ).toContain("messages_tenant_status_idx");
      expect(await plan("SELECT * FROM scheduled_tasks WHERE status = 'PENDING' AND next_run_at <= '2026'")).toContain(
        "scheduled_tasks_due_idx",
      );
      expect(await plan("SELECT * FROM tenants WHERE telegram_chat_id = '1'")).toContain(
        "tenants_telegram_chat_id_unique",
      );
      expect(await plan("SELECT * FROM tenants WHERE phone_number = '+1'")).toContain("tenants_phone_number_unique");
      expect(
        await plan("SELECT id FROM messages WHERE direction = 'in' AND channel = 'telegram' AND external_id = '1'"),
      ).toContain("messages_channel_external_id_unique");
    });
  });
}

describe("both drivers on one file", () => {
  test("a database migrated by one driver is current for the other, and they see each other's writes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-db-"));
    const url = `file:${join(dir, "proxystaff.db")}`;
    const bun = await openDatabase(url, { driver: "bun-sqlite" });
    const lib = await openDatabase(url, { driver: "libsql" });
    try {
      expect(await migrateDatabase(bun)).toBe(embeddedMigrations.length);
      expect(await migrateDatabase(lib)).toBe(0);
      await lib.db
        .insert(schema.tenants)
        .values({ id: "t1", name: "A", phone_number: "+18015550001", channel: "whatsapp" });
      expect(await bun.db.select({ id: schema.tenants.id }).from(schema.tenants)).toEqual([{ id: "t1" }]);
    } finally {
      await lib.close();
      await bun.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("pingDatabase", () => {
  test("true when the schema can be read; false (never a throw) when closed or hanging", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-db-"));
    const database = await openDatabase(`file:${join(dir, "proxystaff.db")}`);
    try {
      expect(await pingDatabase(database.db)).toBe(true);
      const hanging = { all: () => new Promise(() => {}) } as unknown as Db; // e.g. a remote database that stopped answering
      expect(await pingDatabase(hanging, 50)).toBe(false);
      await database.close();
      expect(await pingDatabase(database.db)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
