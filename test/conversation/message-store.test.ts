import { afterEach, describe, expect, test } from "bun:test";
import { isoAt } from "../../src/clock.ts";
import type { AppContext } from "../../src/context.ts";
import { listMessagePage, messageCursor, parseMessageCursor } from "../../src/conversation/message-store.ts";
import { messages } from "../../src/db/schema.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";

const T0 = Date.parse("2026-11-26T09:00:00.000Z");

let t: TestContext | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

async function insertRow(ctx: AppContext, tenantId: string, id: string, body: string, ms: number): Promise<void> {
  await ctx.db.insert(messages).values({
    id,
    tenant_id: tenantId,
    direction: "out",
    channel: "telegram",
    chat_id: "42",
    body,
    status: "sent",
    created_at: isoAt(ms),
  });
}

describe.each(["bun-sqlite", "libsql"] as const)("listMessagePage on %s", (driver) => {
  test("a split reply's chunks share created_at: paging by cursor skips none and repeats none", async () => {
    t = await createTestContext({ driver, clock: new FakeClock() });
    const ctx = t.ctx;
    const tenant = await insertTenant(ctx, { phone_number: "+18015550000" });
    await insertRow(ctx, tenant.id, "m-older", "older message", T0);
    // The outbox stores every chunk with one created_at; ids in reverse order prove the tie is storage order.
    await insertRow(ctx, tenant.id, "z-chunk", "chunk 1/3", T0 + 1000);
    await insertRow(ctx, tenant.id, "y-chunk", "chunk 2/3", T0 + 1000);
    await insertRow(ctx, tenant.id, "x-chunk", "chunk 3/3", T0 + 1000);

    const first = await listMessagePage(ctx.db, { tenantId: tenant.id, limit: 2 });
    expect(first.messages.map((m) => m.body)).toEqual(["chunk 3/3", "chunk 2/3"]);
    expect(first.nextBefore).toBe(`${isoAt(T0 + 1000)}|y-chunk`);

    const second = await listMessagePage(ctx.db, {
      tenantId: tenant.id,
      limit: 2,
      before: parseMessageCursor(first.nextBefore!)!,
    });
    expect(second.messages.map((m) => m.body)).toEqual(["chunk 1/3", "older message"]);
    const third = await listMessagePage(ctx.db, {
      tenantId: tenant.id,
      limit: 2,
      before: parseMessageCursor(second.nextBefore!)!,
    });
    expect(third).toEqual({ messages: [], nextBefore: null });
  });

  test("a plain time still pages by time (strictly before it); a short page has no next cursor", async () => {
    t = await createTestContext({ driver, clock: new FakeClock() });
    const ctx = t.ctx;
    const tenant = await insertTenant(ctx, { phone_number: "+18015550000" });
    await insertRow(ctx, tenant.id, "a", "first", T0);
    await insertRow(ctx, tenant.id, "b", "second", T0 + 1000);
    const page = await listMessagePage(ctx.db, {
      tenantId: tenant.id,
      limit: 5,
      before: parseMessageCursor("2026-11-26T10:00:01+01:00")!,
    });
    expect(page.messages.map((m) => m.body)).toEqual(["first"]);
    expect(page.nextBefore).toBeNull();
  });
});

describe("parseMessageCursor", () => {
  test("reads cursors and ISO times, normalised to the stored UTC text; refuses anything else", () => {
    expect(parseMessageCursor(messageCursor({ created_at: "2026-11-26T09:00:00.000Z", id: "3f2a" }))).toEqual({
      createdAt: "2026-11-26T09:00:00.000Z",
      id: "3f2a",
    });
    expect(parseMessageCursor("2026-11-26T10:00:00+01:00")).toEqual({ createdAt: "2026-11-26T09:00:00.000Z" });
    expect(parseMessageCursor("2026-11-26T09:00:00Z|abc")).toEqual({
      createdAt: "2026-11-26T09:00:00.000Z",
      id: "abc",
    });
    for (const bad of [
      "yesterday",
      "1",
      "",
      "2026-11-26T09:00:00Z|",
      "2026-11-26T09:00:00Z|a b",
      "|abc",
      "2026-13-45T99:00:00Z",
    ]) {
      expect(parseMessageCursor(bad)).toBeNull();
    }
  });
});
