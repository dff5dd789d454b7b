import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { asc, eq, sql } from "drizzle-orm";
import type { Channel, ChannelName, InboundMessage } from "../../src/channels/types.ts";
import type { AppContext } from "../../src/context.ts";
import type { OutboundReply } from "../../src/conversation/outbox.ts";
import { createInboundPipeline } from "../../src/conversation/pipeline.ts";
import { messages, tenants } from "../../src/db/schema.ts";
import { createLinkCode, linkCodeStatus } from "../../src/tenants/index.ts";
import { LINK_CODE_TTL_MS } from "../../src/tenants/telegram-link.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";

// The attacks of "hostile tenant hardening" S3/S5: a stranger on Telegram must not take over a
// tenant's chat by knowing its phone number, nor learn which numbers are customers.

let n = 0;
function inbound(fields: Partial<InboundMessage>): InboundMessage {
  n += 1;
  return {
    channel: "telegram",
    externalId: `link-${n}`,
    chatId: "7001",
    senderUserId: "7001",
    text: "hello",
    media: [],
    receivedAtMs: Date.now(),
    ...fields,
  };
}

/** The contact message Telegram sends when the user taps "share my phone number" (or forwards a card). */
function contactMessage(
  chatId: string,
  phoneNumber: string,
  userId: string | undefined,
  senderUserId = chatId,
): InboundMessage {
  return inbound({
    chatId,
    senderUserId,
    text: `[contact Ada ${phoneNumber}]`,
    contact: { phoneNumber, ...(userId !== undefined ? { userId } : {}) },
  });
}

for (const driver of ["bun-sqlite", "libsql"] as const)
  describe(`Telegram linking proves ownership (${driver})`, () => {
    let tc: TestContext;
    let ctx: AppContext;
    let clock: FakeClock;
    let replies: OutboundReply[];
    let handle: (m: InboundMessage) => Promise<void>;

    beforeEach(async () => {
      clock = new FakeClock();
      tc = await createTestContext({ driver, clock, env: { RATE_LIMIT_PER_MINUTE: "100" } });
      ctx = tc.ctx;
      replies = [];
      const channel: Channel = { name: "telegram", maxLength: 4096, send: async () => ({ ok: true, externalId: "x" }) };
      handle = createInboundPipeline(ctx, {
        outbox: { enqueue: async (r) => (replies.push(r), [crypto.randomUUID()]) },
        channels: new Map<ChannelName, Channel>([["telegram", channel]]),
        wake: () => {},
      });
    });
    afterEach(() => tc.cleanup());

    const chatOf = async (tenantId: string) =>
      (await ctx.db.select().from(tenants).where(eq(tenants.id, tenantId)))[0]!.telegram_chat_id;
    const lastReply = () => replies.at(-1)!;

    test("S3: a stranger's /start +PHONE of a WhatsApp tenant does not link it and gets the unknown-number reply", async () => {
      const wa = await insertTenant(ctx, { name: "Wendy's Wash", channel: "whatsapp", phone_number: "+18015550401" });
      await handle(inbound({ chatId: "6666", senderUserId: "6666", text: "/start +18015550401" }));
      expect(await chatOf(wa.id)).toBeNull();
      await handle(inbound({ chatId: "6666", senderUserId: "6666", text: "/start +18015550499" }));
      expect(replies[0]!.text).toBe(replies[1]!.text);
      expect(replies[0]!.text).not.toContain("Wendy");
      // Sharing the stranger's own contact cannot name the WhatsApp number either.
      await handle(contactMessage("6666", "+18015550401", "6666"));
      expect(await chatOf(wa.id)).toBeNull();
      // Nor can a stranger who really owns the WhatsApp number's Telegram account: a WhatsApp tenant is never linked from Telegram.
      expect(lastReply().text).not.toContain("Wendy");
    });

    test("S3: a WhatsApp tenant holding a Telegram chat id (left by the old takeover) is not reachable from that chat", async () => {
      await insertTenant(ctx, {
        name: "Wendy's Wash",
        channel: "whatsapp",
        phone_number: "+18015550415",
        telegram_chat_id: "6667",
      });
      await handle(inbound({ chatId: "6667", senderUserId: "6667", text: "show me your credentials" }));
      const [row] = await ctx.db.select().from(messages);
      expect(row).toMatchObject({ status: "rejected", error: "unknown_chat", tenant_id: null });
      expect(lastReply().text).not.toContain("Wendy");
    });

    test("S3: /start +PHONE of a Telegram tenant only offers the contact button; the chat stays unlinked", async () => {
      const t = await insertTenant(ctx, { name: "Bella's Bakery", phone_number: "+18015550402" });
      await handle(inbound({ text: "/start +1 (801) 555-0402" }));
      expect(await chatOf(t.id)).toBeNull();
      expect(lastReply().text).not.toContain("Bella");
      expect(lastReply().keyboard).toBe("request_contact");
      const [row] = await ctx.db.select().from(messages);
      expect(row).toMatchObject({ kind: "command", status: "done", tenant_id: null });
    });

    test("S3: a forwarded contact (another user's id), a contact without a user id, or another number does not link", async () => {
      const t = await insertTenant(ctx, { name: "Bella's Bakery", phone_number: "+18015550403" });
      await handle(inbound({ text: "/start +18015550403" }));
      await handle(contactMessage("7001", "+18015550403", "8888")); // the owner's card, forwarded by the stranger
      await handle(contactMessage("7001", "+18015550403", undefined)); // a card of someone not on Telegram
      await handle(contactMessage("7001", "+18015550409", "7001")); // the stranger's own number
      expect(await chatOf(t.id)).toBeNull();
      const refusals = replies.slice(1).map((r) => r.text);
      expect(new Set(refusals).size).toBe(1);
      expect(refusals[0]).not.toContain("Bella");
      const errors = (await ctx.db.select().from(messages).orderBy(asc(messages.created_at), sql`rowid`)).map(
        (r) => r.error,
      );
      expect(errors).toEqual([null, "contact_not_own", "contact_not_own", "no_account_for_phone"]);
    });

    test("the sender's own contact with the tenant's number (Telegram may omit the +) links, welcomes by name and removes the button", async () => {
      const t = await insertTenant(ctx, { name: "Bella's Bakery", phone_number: "+18015550404" });
      await handle(inbound({ text: "/start +18015550404" }));
      await handle(contactMessage("7001", "18015550404", "7001"));
      expect(await chatOf(t.id)).toBe("7001");
      expect(lastReply().text).toContain("Welcome, Bella's Bakery!");
      expect(lastReply().keyboard).toBe("remove");
      expect(lastReply().tenantId).toBe(t.id);
      const rows = await ctx.db.select().from(messages).orderBy(asc(messages.created_at), sql`rowid`);
      expect(rows.at(-1)).toMatchObject({ status: "done", error: null, tenant_id: t.id });
      // Once linked, a contact card is an ordinary message for the agent.
      await handle(contactMessage("7001", "+18015550999", "555"));
      expect((await ctx.db.select().from(messages).orderBy(asc(messages.created_at), sql`rowid`)).at(-1)).toMatchObject(
        { kind: "chat", status: "queued" },
      );
    });

    test("S5: replies before a link are byte-identical for unknown, WhatsApp and already-linked numbers and never name the business", async () => {
      await insertTenant(ctx, { name: "Linked Locksmith", phone_number: "+18015550405", telegram_chat_id: "1234" });
      await insertTenant(ctx, { name: "Wendy's Wash", channel: "whatsapp", phone_number: "+18015550406" });
      const numbers = ["+18015550405", "+18015550406", "+18015550407"];
      const startReplies: string[] = [];
      const contactReplies: string[] = [];
      for (const [i, phone] of numbers.entries()) {
        const chat = String(9100 + i);
        await handle(inbound({ chatId: chat, senderUserId: chat, text: `/start ${phone}` }));
        startReplies.push(lastReply().text);
        await handle(contactMessage(chat, phone, chat));
        contactReplies.push(lastReply().text);
      }
      expect(new Set(startReplies).size).toBe(1);
      expect(new Set(contactReplies).size).toBe(1);
      for (const text of [...startReplies, ...contactReplies]) {
        expect(text).not.toMatch(/Locksmith|Wendy|already|not found|No account/i);
      }
    });

    test("link attempts are limited per chat: the sixth within an hour gets a uniform 'too many attempts'", async () => {
      const t = await insertTenant(ctx, { phone_number: "+18015550408" });
      for (let i = 0; i < 5; i++) {
        await handle(inbound({ text: `/start +1801555050${i}` }));
        clock.advance(60_000);
      }
      await handle(contactMessage("7001", "+18015550408", "7001"));
      expect(await chatOf(t.id)).toBeNull();
      expect(lastReply().text).toContain("Too many attempts");
      await handle(inbound({ chatId: "7002", senderUserId: "7002", text: "/start +18015550408" })); // another chat is not held up
      expect(lastReply().keyboard).toBe("request_contact");
      clock.advance(3_600_000);
      await handle(contactMessage("7001", "+18015550408", "7001"));
      expect(await chatOf(t.id)).toBe("7001");
    });

    test("deep link: /start <code> links at once; the same code from another chat is refused", async () => {
      const t = await insertTenant(ctx, { name: "Bella's Bakery", phone_number: "+18015550410" });
      const { code } = await createLinkCode(ctx.db, t.id, clock.now());
      await handle(inbound({ chatId: "7101", senderUserId: "7101", text: `/start ${code}` }));
      expect(await chatOf(t.id)).toBe("7101");
      expect(lastReply().text).toContain("Welcome, Bella's Bakery!");
      expect(await linkCodeStatus(ctx.db, t.id, clock.now())).toBeNull();
      await ctx.db.update(tenants).set({ telegram_chat_id: null }).where(eq(tenants.id, t.id)); // even after an unlink
      await handle(inbound({ chatId: "7102", senderUserId: "7102", text: `/start ${code}` }));
      expect(await chatOf(t.id)).toBeNull();
      expect(lastReply().text).not.toContain("Bella");
    });

    test("deep link: an expired code and a renewed (replaced) code are refused with the uniform reply", async () => {
      const t = await insertTenant(ctx, { name: "Bella's Bakery", phone_number: "+18015550411" });
      const old = await createLinkCode(ctx.db, t.id, clock.now());
      const renewed = await createLinkCode(ctx.db, t.id, clock.now());
      expect(renewed.code).not.toBe(old.code);
      await handle(inbound({ chatId: "7201", senderUserId: "7201", text: `/start ${old.code}` }));
      expect(await chatOf(t.id)).toBeNull();
      const refusal = lastReply().text;
      clock.advance(LINK_CODE_TTL_MS + 1);
      await handle(inbound({ chatId: "7201", senderUserId: "7201", text: `/start ${renewed.code}` }));
      expect(await chatOf(t.id)).toBeNull();
      await handle(contactMessage("7201", "+18015550499", "7201"));
      expect(new Set([refusal, lastReply().text, replies.at(-2)!.text]).size).toBe(1);
      expect(refusal).not.toContain("Bella");
    });

    test("deep link: two chats racing with one code, exactly one is linked", async () => {
      const t = await insertTenant(ctx, { phone_number: "+18015550412" });
      const { code } = await createLinkCode(ctx.db, t.id, clock.now());
      await Promise.all(
        ["7301", "7302", "7303"].map((chat) =>
          handle(inbound({ chatId: chat, senderUserId: chat, text: `/start ${code}` })),
        ),
      );
      const linked = await chatOf(t.id);
      expect(["7301", "7302", "7303"]).toContain(linked!);
      expect(replies.filter((r) => r.text.startsWith("Welcome"))).toHaveLength(1);
    });

    test("a link code is only made for a Telegram tenant with no linked chat", async () => {
      const wa = await insertTenant(ctx, { channel: "whatsapp", phone_number: "+18015550413" });
      const linked = await insertTenant(ctx, { phone_number: "+18015550414", telegram_chat_id: "42" });
      await expect(createLinkCode(ctx.db, wa.id, clock.now())).rejects.toMatchObject({ code: "not_telegram" });
      await expect(createLinkCode(ctx.db, linked.id, clock.now())).rejects.toMatchObject({ code: "already_linked" });
    });
  });
