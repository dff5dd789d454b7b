import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { ChannelName, InboundMessage } from "../../src/channels/types.ts";
import type { AppContext } from "../../src/context.ts";
import { decideCommand, helpReply } from "../../src/conversation/chat-commands.ts";
import { requireTenant } from "../../src/tenants/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";

describe("helpReply: depends on the channel and whether the chat is linked", () => {
  test("an unlinked Telegram chat learns /start +PHONE (and no /reset, which needs a linked chat)", () => {
    const text = helpReply({ channel: "telegram", businessName: null });
    expect(text).toContain("/start +PHONE");
    expect(text).toContain("the link your operator gave you");
    expect(text).toContain("Share my phone number");
    expect(text).toContain("not linked");
    expect(text).not.toContain("/reset");
  });

  test("a linked chat (Telegram, WhatsApp, console) never lists /start; it lists /reset and /help", () => {
    for (const channel of ["telegram", "whatsapp", "console"] as ChannelName[]) {
      const text = helpReply({ channel, businessName: "Acme Plumbing" });
      expect(text).toContain("AI staff member of Acme Plumbing");
      expect(text).not.toContain("/start");
      expect(text).toContain("/reset — ");
      expect(text).toContain("/help — ");
    }
    expect(helpReply({ channel: "console", businessName: "Acme Plumbing" })).toContain("/quit");
    expect(helpReply({ channel: "telegram", businessName: "Acme Plumbing" })).not.toContain("/quit");
  });

  test("an unknown WhatsApp number is told to ask its operator, not to /start", () => {
    const text = helpReply({ channel: "whatsapp", businessName: null });
    expect(text).toContain("not registered");
    expect(text).not.toContain("/start");
  });

  test("media: files and photos are saved for the agent; voice notes are files, not transcribed", () => {
    const text = helpReply({ channel: "whatsapp", businessName: "Acme Plumbing" });
    expect(text).toContain("photos and files");
    expect(text).toContain("saved for me to open");
    expect(text).toContain("Voice notes arrive as audio files that I cannot listen to (there is no transcription)");
    expect(text).not.toMatch(/send[^.]*voice notes too/i);
    // The terminal chat carries text only.
    expect(helpReply({ channel: "console", businessName: "Acme Plumbing" })).not.toContain("Voice notes");
  });
});

describe("/help through decideCommand", () => {
  let tc: TestContext;
  let ctx: AppContext;
  beforeEach(async () => {
    tc = await createTestContext({ clock: new FakeClock() });
    ctx = tc.ctx;
  });
  afterEach(() => tc.cleanup());

  const message = (channel: ChannelName, chatId: string): InboundMessage => ({
    channel,
    externalId: crypto.randomUUID(),
    chatId,
    text: "/help",
    media: [],
    receivedAtMs: Date.now(),
  });

  test("answers for the chat's own state: linked Telegram and WhatsApp without /start, unlinked Telegram with it", async () => {
    const telegramTenant = await requireTenant(
      ctx.db,
      (await insertTenant(ctx, { telegram_chat_id: "1001", name: "Telegram Bakery" })).id,
    );
    const whatsappTenant = await requireTenant(
      ctx.db,
      (await insertTenant(ctx, { channel: "whatsapp", name: "WhatsApp Florist" })).id,
    );
    const linked = await decideCommand(ctx, { name: "help" }, message("telegram", "1001"), telegramTenant);
    expect(linked).toMatchObject({ tenantId: telegramTenant.id, status: "done" });
    expect(linked.reply).not.toContain("/start");
    const whatsapp = await decideCommand(
      ctx,
      { name: "help" },
      message("whatsapp", whatsappTenant.phone_number),
      whatsappTenant,
    );
    expect(whatsapp.reply).toContain("WhatsApp Florist");
    expect(whatsapp.reply).not.toContain("/start");
    const unlinked = await decideCommand(ctx, { name: "help" }, message("telegram", "2002"), null);
    expect(unlinked.reply).toContain("/start +PHONE");
  });
});
