import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { asc, sql } from "drizzle-orm";
import type { Channel, ChannelName, InboundMessage } from "../../src/channels/types.ts";
import type { AppContext } from "../../src/context.ts";
import type { OutboundReply } from "../../src/conversation/outbox.ts";
import { createInboundPipeline } from "../../src/conversation/pipeline.ts";
import { acquireLease, getSessionState, saveSessionId } from "../../src/conversation/session-store.ts";
import { timelineWritten } from "../../src/conversation/timeline.ts";
import { messages, tenants } from "../../src/db/schema.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";

let n = 0;
function inbound(fields: Partial<InboundMessage>): InboundMessage {
  n += 1;
  return {
    channel: "telegram",
    externalId: `upd-${n}`,
    chatId: "1001",
    text: "hello",
    media: [],
    receivedAtMs: Date.now(),
    ...fields,
  };
}

for (const driver of ["bun-sqlite", "libsql"] as const)
  describe(`inbound pipeline (${driver})`, () => {
    let tc: TestContext;
    let ctx: AppContext;
    let clock: FakeClock;
    let replies: OutboundReply[];
    let wakes: number;
    let fetches = 0;
    let handle: (m: InboundMessage) => Promise<void>;

    const mediaChannel: Channel = {
      name: "telegram",
      maxLength: 4096,
      send: async () => ({ ok: true, externalId: "x" }),
      async fetchMedia(ref, save) {
        fetches += 1;
        const path = save(`photo-${ref.fileId}.jpg`, new TextEncoder().encode("jpeg"));
        return { kind: ref.kind, path, mimeType: "image/jpeg", sizeBytes: 4 };
      },
    };

    beforeEach(async () => {
      clock = new FakeClock();
      tc = await createTestContext({ driver, clock, env: { RATE_LIMIT_PER_MINUTE: "3" } });
      ctx = tc.ctx;
      replies = [];
      wakes = 0;
      handle = createInboundPipeline(ctx, {
        outbox: { enqueue: async (r) => (replies.push(r), [crypto.randomUUID()]) },
        channels: new Map<ChannelName, Channel>([["telegram", mediaChannel]]),
        wake: () => void (wakes += 1),
      });
    });
    afterEach(() => tc.cleanup());

    const rows = () => ctx.db.select().from(messages).orderBy(asc(messages.created_at), sql`rowid`);

    test("unknown chat: stored rejected, told how to link", async () => {
      await handle(inbound({ text: "hi" }));
      const [row] = await rows();
      expect(row).toMatchObject({ status: "rejected", error: "unknown_chat", tenant_id: null });
      expect(replies).toHaveLength(1);
      expect(replies[0]!.text).toContain("No account found for this chat");
      expect(replies[0]!.text).toContain("/start");
      expect(replies[0]!.replyTo).toBe(row!.id);
      expect(wakes).toBe(0);
    });

    test("/start +PHONE, then the sender's own contact, links the chat with a welcome naming the business; then messages are queued", async () => {
      const t = await insertTenant(ctx, { name: "Bella's Bakery", phone_number: "+18015550001" });
      await handle(inbound({ text: "/start +1 (801) 555-0001", senderUserId: "1001" }));
      expect(replies[0]!.keyboard).toBe("request_contact");
      await handle(
        inbound({
          text: "[contact Bella +18015550001]",
          senderUserId: "1001",
          contact: { phoneNumber: "+18015550001", userId: "1001" },
        }),
      );
      expect(replies[1]!.text).toContain("Bella's Bakery");
      expect((await ctx.db.select().from(tenants))[0]!.telegram_chat_id).toBe("1001");
      clock.advance(60_000); // RATE_LIMIT_PER_MINUTE is 3 here
      await handle(inbound({ text: "Do we have flour?", senderName: "Bella" }));
      const all = await rows();
      expect(all.map((r) => [r.kind, r.status, r.tenant_id])).toEqual([
        ["command", "done", null],
        ["command", "done", t.id],
        ["chat", "queued", t.id],
      ]);
      expect(wakes).toBe(1);
      await timelineWritten(); // the webhook does not wait for its timeline line
      const day = readdirSync(join(ctx.config.TENANTS_DIR, t.id, "timeline"));
      const text = readFileSync(join(ctx.config.TENANTS_DIR, t.id, "timeline", day[0]!), "utf8");
      expect(text).toContain("linked by the customer's shared contact");
      expect(text).toMatch(/- \d\d:\d\d ← Bella \(telegram\): Do we have flour\?/);
    });

    test("/start refusals: no argument, not a number", async () => {
      await handle(inbound({ text: "/start" }));
      await handle(inbound({ text: "/start pizza" }));
      expect(replies.map((r) => r.text)).toEqual([
        expect.stringContaining("/start followed by your phone number"),
        expect.stringContaining("/start followed by your phone number"),
      ]);
      expect((await rows()).map((r) => r.error)).toEqual(["start_without_argument", "invalid_phone"]);
    });

    test("a duplicate delivery does nothing at all", async () => {
      await insertTenant(ctx, { telegram_chat_id: "1001" });
      const msg = inbound({ text: "once" });
      await handle(msg);
      await handle(msg);
      await Promise.all([handle({ ...msg }), handle({ ...msg })]);
      expect(await rows()).toHaveLength(1);
      expect(wakes).toBe(1);
      const start = inbound({ text: "/help" });
      await Promise.all([handle(start), handle(start)]);
      expect(replies).toHaveLength(1);
    });

    test("WhatsApp: the sender's number finds its tenant (auto-link); others are unknown", async () => {
      const t = await insertTenant(ctx, { channel: "whatsapp", phone_number: "+18015550003" });
      await handle(inbound({ channel: "whatsapp", chatId: "+18015550003", senderPhone: "+18015550003", text: "hi" }));
      await handle(inbound({ channel: "whatsapp", chatId: "+18015550004", senderPhone: "+18015550004", text: "hi" }));
      expect((await rows()).map((r) => [r.status, r.tenant_id])).toEqual([
        ["queued", t.id],
        ["rejected", null],
      ]);
      expect(replies[0]!.text).toContain("No account found for this chat");
    });

    test("rate limit: sliding window from stored rows, one slow-down reply per minute", async () => {
      const t = await insertTenant(ctx, { telegram_chat_id: "1001" });
      for (let i = 0; i < 6; i++) {
        await handle(inbound({ text: `m${i}` }));
        clock.advance(1000);
      }
      expect((await rows()).map((r) => r.status)).toEqual([
        "queued",
        "queued",
        "queued",
        "rejected",
        "rejected",
        "rejected",
      ]);
      expect(replies.map((r) => r.text)).toEqual([expect.stringContaining("slow down")]);
      clock.advance(60_000);
      await handle(inbound({ text: "later" }));
      expect((await rows()).at(-1)).toMatchObject({ status: "queued", tenant_id: t.id });
    });

    test("paused and archived tenants: stored rejected with a short reply", async () => {
      await insertTenant(ctx, { telegram_chat_id: "1001", onboarding_status: "PAUSED" });
      await insertTenant(ctx, { telegram_chat_id: "1002", status: "ARCHIVED" });
      await handle(inbound({ chatId: "1001" }));
      await handle(inbound({ chatId: "1002" }));
      expect((await rows()).map((r) => r.error)).toEqual(["tenant_paused", "tenant_archived"]);
      expect(replies.map((r) => r.text)).toEqual([
        expect.stringContaining("paused"),
        expect.stringContaining("closed"),
      ]);
      expect(wakes).toBe(0);
    });

    test("/reset forgets the agent session; the lease of a run in flight stays with it", async () => {
      const t = await insertTenant(ctx, { telegram_chat_id: "1001" });
      await acquireLease(ctx.db, t.id, "p", clock.now(), 60_000);
      await saveSessionId(ctx.db, t.id, "p", "sess-1", clock.now(), null);
      await handle(inbound({ text: "/reset" }));
      expect(await getSessionState(ctx.db, t.id)).toMatchObject({ agent_session_id: null, lease_owner: "p" });
      expect(replies[0]!.text).toContain("fresh conversation");
    });

    test("media is only referenced (pending download): the webhook does not wait for a download", async () => {
      const t = await insertTenant(ctx, { telegram_chat_id: "1001" });
      await handle(inbound({ text: "look", media: [{ kind: "photo", fileId: "abc" }] }));
      const [row] = await rows();
      expect(row!.status).toBe("queued");
      expect(JSON.parse(row!.media!)).toEqual([
        { kind: "photo", status: "pending download", ref: { kind: "photo", fileId: "abc" } },
      ]);
      expect(fetches).toBe(0);
      expect(existsSync(join(ctx.config.TENANTS_DIR, t.id, "inbox", "photo-abc.jpg"))).toBe(false);
    });
  });
