// S11: nothing was ever pruned. The retention job deletes old messages (each tenant's newest 200 kept, live rows
// never), strangers' rejected rows after 30 days, and old files of timeline/ and inbox/ — without following a link
// the agent planted in its workspace.
import { describe, expect, test } from "bun:test";
import {
  existsSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, isNull } from "drizzle-orm";
import type { AppContext } from "../../src/context.ts";
import { createRetention } from "../../src/conversation/retention.ts";
import type { DriverKind, schema } from "../../src/db/index.ts";
import { messages } from "../../src/db/schema.ts";
import { createTestContext, FakeClock, freshEachTest, insertTenant } from "../helpers/index.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-11-26T09:00:00.000Z");

type NewMessage = typeof schema.messages.$inferInsert;

async function seedMessages(
  ctx: AppContext,
  tenantId: string | null,
  count: number,
  ageMs: number,
  extra: Partial<NewMessage> = {},
): Promise<void> {
  const rows: NewMessage[] = [];
  for (let i = 0; i < count; i++) {
    rows.push({
      id: crypto.randomUUID(),
      tenant_id: tenantId,
      direction: "in",
      channel: "telegram",
      chat_id: "111",
      status: "done",
      body: `m${i}`,
      created_at: new Date(NOW - ageMs + i * 1000).toISOString(),
      ...extra,
    });
  }
  for (let i = 0; i < rows.length; i += 200) await ctx.db.insert(messages).values(rows.slice(i, i + 200));
}

async function countOf(ctx: AppContext, tenantId: string | null): Promise<number> {
  const rows = await ctx.db
    .select({ id: messages.id })
    .from(messages)
    .where(tenantId === null ? isNull(messages.tenant_id) : eq(messages.tenant_id, tenantId));
  return rows.length;
}

/** Writes a file with the given age (mtime). */
function fileAged(path: string, ageMs: number, content = "x"): string {
  writeFileSync(path, content);
  const at = new Date(NOW - ageMs);
  utimesSync(path, at, at);
  return path;
}

function workspaceOf(ctx: AppContext, tenantId: string): string {
  const dir = join(ctx.config.TENANTS_DIR, tenantId);
  mkdirSync(join(dir, "timeline"), { recursive: true });
  mkdirSync(join(dir, "inbox"), { recursive: true });
  return dir;
}

function setup(env: Record<string, string>, driver?: DriverKind) {
  return async () => {
    const t = await createTestContext({ clock: new FakeClock(NOW), env, driver });
    const outside = mkdtempSync(join(tmpdir(), "proxystaff-outside-"));
    return { t, outside, a: (await insertTenant(t.ctx)).id, b: (await insertTenant(t.ctx)).id };
  };
}

describe("retention (RETENTION_DAYS=365)", () => {
  const f = freshEachTest(setup({ RETENTION_DAYS: "365" }), async (x) => {
    rmSync(x.outside, { recursive: true, force: true });
    await x.t.cleanup();
  });

  test("old messages are pruned in batches, each tenant's newest 200 and live rows kept; strangers' rows go after 30 days", async () => {
    const { t, a, b } = f;
    await seedMessages(t.ctx, a, 700, 400 * DAY); // old
    await seedMessages(t.ctx, a, 50, DAY); // recent
    await seedMessages(t.ctx, a, 3, 500 * DAY, { status: "queued" });
    await seedMessages(t.ctx, a, 2, 500 * DAY, { status: "pending", direction: "out" });
    await seedMessages(t.ctx, b, 120, 400 * DAY); // fewer than 200: all kept
    await seedMessages(t.ctx, null, 40, 40 * DAY, { status: "rejected" });
    await seedMessages(t.ctx, null, 5, 10 * DAY, { status: "rejected" });

    const report = await createRetention(t.ctx, { batchSize: 100 }).runOnce();

    expect(await countOf(t.ctx, a)).toBe(200 + 5);
    const kept = await t.ctx.db.select().from(messages).where(eq(messages.tenant_id, a));
    expect(kept.filter((m) => m.status === "queued" || m.status === "pending")).toHaveLength(5);
    expect(kept.filter((m) => Date.parse(m.created_at) > NOW - 2 * DAY)).toHaveLength(50);
    expect(await countOf(t.ctx, b)).toBe(120);
    expect(await countOf(t.ctx, null)).toBe(5);
    expect(report).toEqual({ messages: 550, strangerMessages: 40, files: 0 });
  });

  test("old timeline and inbox files go, recent ones stay; a symlink planted in inbox/ is not followed", async () => {
    const { t, a, outside } = f;
    const ws = workspaceOf(t.ctx, a);
    const oldDay = fileAged(join(ws, "timeline", "2025-10-01.md"), 400 * DAY);
    const today = fileAged(join(ws, "timeline", "2026-11-26.md"), 0);
    const oldPhoto = fileAged(join(ws, "inbox", "old.jpg"), 400 * DAY);
    const newPhoto = fileAged(join(ws, "inbox", "new.jpg"), 10 * DAY);
    const target = fileAged(join(outside, "precious.txt"), 400 * DAY, "not the tenant's");
    const link = join(ws, "inbox", "link.jpg");
    symlinkSync(target, link);
    lutimesSync(link, new Date(NOW - 400 * DAY), new Date(NOW - 400 * DAY));
    const dirLink = join(ws, "inbox", "folder");
    symlinkSync(outside, dirLink);
    mkdirSync(join(ws, "inbox", "sub"));
    const nested = fileAged(join(ws, "inbox", "sub", "old.txt"), 400 * DAY);

    const report = await createRetention(t.ctx).runOnce();

    expect([existsSync(oldDay), existsSync(today), existsSync(oldPhoto), existsSync(newPhoto)]).toEqual([
      false,
      true,
      false,
      true,
    ]);
    expect(existsSync(target)).toBe(true);
    expect(existsSync(link)).toBe(true); // a link is not a regular file: left alone
    expect(existsSync(nested)).toBe(true); // nothing below the folder's own files
    expect(report.files).toBe(2);
  });

  test("a timeline/ swapped for a symlink to another folder is skipped: the files there survive", async () => {
    const { t, a, outside } = f;
    const ws = workspaceOf(t.ctx, a);
    rmSync(join(ws, "timeline"), { recursive: true });
    symlinkSync(outside, join(ws, "timeline"));
    const victim = fileAged(join(outside, "2020-01-01.md"), 2000 * DAY);
    await createRetention(t.ctx).runOnce();
    expect(existsSync(victim)).toBe(true);
  });

  test("as a service: the first pass runs after start; stop waits for it", async () => {
    const { t, a } = f;
    await seedMessages(t.ctx, a, 300, 400 * DAY);
    const retention = createRetention(t.ctx, { firstDelayMs: 1 });
    await retention.service.start();
    for (let i = 0; i < 100 && (await countOf(t.ctx, a)) > 200; i++) await Bun.sleep(20);
    await retention.service.stop();
    expect(await countOf(t.ctx, a)).toBe(200);
  });
});

describe("retention (RETENTION_DAYS=0)", () => {
  const f = freshEachTest(setup({ RETENTION_DAYS: "0" }), async (x) => {
    rmSync(x.outside, { recursive: true, force: true });
    await x.t.cleanup();
  });

  test("keeps every tenant message and file forever; strangers' rejected rows still go after 30 days", async () => {
    const { t, a } = f;
    await seedMessages(t.ctx, a, 300, 4000 * DAY);
    await seedMessages(t.ctx, null, 3, 40 * DAY, { status: "rejected" });
    const ws = workspaceOf(t.ctx, a);
    const old = fileAged(join(ws, "inbox", "old.jpg"), 4000 * DAY);
    const report = await createRetention(t.ctx).runOnce();
    expect(await countOf(t.ctx, a)).toBe(300);
    expect(existsSync(old)).toBe(true);
    expect(report).toEqual({ messages: 0, strangerMessages: 3, files: 0 });
  });
});

describe("retention on the libSQL driver (as for a remote database)", () => {
  const f = freshEachTest(setup({ RETENTION_DAYS: "365" }, "libsql"), async (x) => {
    rmSync(x.outside, { recursive: true, force: true });
    await x.t.cleanup();
  });

  test("the batched DELETE keeps the newest 200 and live rows", async () => {
    const { t, a } = f;
    await seedMessages(t.ctx, a, 450, 400 * DAY);
    await seedMessages(t.ctx, a, 2, 500 * DAY, { status: "processing" });
    const report = await createRetention(t.ctx, { batchSize: 100 }).runOnce();
    expect(report.messages).toBe(250);
    expect(await countOf(t.ctx, a)).toBe(202);
  });
});
