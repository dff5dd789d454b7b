import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import type { Channels } from "../../src/channels/channels.ts";
import { createChannels } from "../../src/channels/index.ts";
import { MediaFetchError } from "../../src/channels/media.ts";
import { deriveWebhookSecret, telegramUpdateToInbound } from "../../src/channels/telegram.ts";
import type { InboundHandler, InboundMessage } from "../../src/channels/types.ts";
import { DatabaseBusyError } from "../../src/db/client.ts";
import { createApp } from "../../src/http/app.ts";
import type { FakeTelegram } from "../fakes/telegram.ts";
import {
  contactUpdate,
  documentUpdate,
  photoUpdate,
  startFakeTelegram,
  telegramWebhookRequest,
  textUpdate,
  voiceUpdate,
} from "../fakes/telegram.ts";
import type { TestContext } from "../helpers/context.ts";
import { createTestContext } from "../helpers/context.ts";
import { eventually } from "../helpers/index.ts";
import { saveInto } from "../helpers/media-sink.ts";

const SECRET = "s3cret-webhook_token";
const PUBLIC_URL = "https://staff.example.com";

let t: TestContext;
let fake: FakeTelegram;
let channels: Channels | undefined;
const received: InboundMessage[] = [];

afterEach(async () => {
  for (const s of [...(channels?.services ?? [])].reverse()) await s.stop();
  channels = undefined;
  received.length = 0;
  await fake?.stop();
  await t?.cleanup();
});

async function setup(env: Record<string, string> = {}, onInbound: InboundHandler = async (m) => void received.push(m)) {
  fake = startFakeTelegram();
  t = await createTestContext({
    env: {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.url,
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      PUBLIC_URL,
      ...env,
    },
  });
  channels = createChannels(t.ctx, { onInbound, telegram: { pollTimeoutS: 1, pollRetryMs: 20, webhookRetryMs: 20 } });
  const app = createApp(t.ctx, { modules: [channels.routes] });
  let nextId = 1000;
  /** secret null = no header at all. */
  const post = (update: Record<string, unknown>, secret: string | null = SECRET) =>
    app.request(
      telegramWebhookRequest("http://local/webhooks/telegram", { update_id: nextId++, ...update }, secret ?? undefined),
    );
  return { app, post, channels };
}

describe("telegram webhook", () => {
  test("a wrong or missing secret token is answered 401 and the handler is not called", async () => {
    const { post } = await setup();
    expect((await post(textUpdate({ chatId: 1, text: "hi" }), "wrong")).status).toBe(401);
    expect((await post(textUpdate({ chatId: 1, text: "hi" }), null)).status).toBe(401);
    expect(received).toHaveLength(0);
  });

  test("a text update becomes an InboundMessage and is answered 200 after the handler resolved", async () => {
    const { post } = await setup();
    const res = await post({
      update_id: 4242,
      ...textUpdate({ chatId: 99, text: "/start +15551234567", firstName: "Ada", lastName: "Lovelace" }),
    });
    expect(res.status).toBe(200);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      channel: "telegram",
      externalId: "4242",
      chatId: "99",
      senderName: "Ada Lovelace",
      text: "/start +15551234567",
      media: [],
    });
    expect(typeof received[0]?.receivedAtMs).toBe("number");
  });

  test("a shared contact carries the card's user id and number, and the sender's user id", async () => {
    const { post } = await setup();
    await post(contactUpdate({ chatId: 99, phoneNumber: "18015550001", userId: 99 }));
    await post(contactUpdate({ chatId: 99, phoneNumber: "+18015550002", userId: 1234 }));
    await post(contactUpdate({ chatId: 99, phoneNumber: "+18015550003" }));
    expect(received.map((m) => [m.senderUserId, m.contact])).toEqual([
      ["99", { phoneNumber: "18015550001", userId: "99" }],
      ["99", { phoneNumber: "+18015550002", userId: "1234" }],
      ["99", { phoneNumber: "+18015550003" }],
    ]);
    expect(received[0]?.text).toBe("[contact Ada 18015550001]");
  });

  test("photo (largest size), document and voice become media refs", async () => {
    const { post } = await setup();
    await post(photoUpdate({ chatId: 5, fileId: "PHOTO-L", caption: "our menu", fileSize: 777 }));
    await post(
      documentUpdate({
        chatId: 5,
        fileId: "DOC1",
        fileName: "prices.pdf",
        mimeType: "application/pdf",
        fileSize: 1234,
      }),
    );
    await post(voiceUpdate({ chatId: 5, fileId: "VOICE1", fileSize: 55 }));
    expect(received.map((m) => m.text)).toEqual(["our menu", "", ""]);
    expect(received[0]?.media).toEqual([{ kind: "photo", fileId: "PHOTO-L", mimeType: "image/jpeg", sizeBytes: 777 }]);
    expect(received[1]?.media).toEqual([
      { kind: "document", fileId: "DOC1", mimeType: "application/pdf", fileName: "prices.pdf", sizeBytes: 1234 },
    ]);
    expect(received[2]?.media).toEqual([{ kind: "voice", fileId: "VOICE1", mimeType: "audio/ogg", sizeBytes: 55 }]);
  });

  test("a handler failure is answered 500 so Telegram delivers the update again", async () => {
    const { post } = await setup({}, async () => {
      throw new Error("disk I/O error");
    });
    const res = await post(textUpdate({ chatId: 1, text: "hi" }));
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("inbound_failed");
  });

  test("a database busy past the retry budget is answered 503 with Retry-After (Telegram delivers again), not 500", async () => {
    const { post } = await setup({}, async () => {
      throw new DatabaseBusyError(4000);
    });
    const res = await post(textUpdate({ chatId: 1, text: "hi" }));
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("database_busy");
  });

  test("updates that carry no message are acknowledged without calling the handler", async () => {
    const { post } = await setup();
    expect(
      (await post({ edited_message: { message_id: 1, date: 0, chat: { id: 1, type: "private" }, text: "x" } })).status,
    ).toBe(200);
    expect(received).toHaveLength(0);
  });

  test("with PUBLIC_URL the webhook is registered at start with the secret and the update types", async () => {
    const { channels: set } = await setup();
    for (const s of set.services) await s.start();
    expect(fake.webhook).toMatchObject({
      url: `${PUBLIC_URL}/webhooks/telegram`,
      secret_token: SECRET,
      allowed_updates: ["message"],
    });
    expect(set.status.telegram).toBe("on (webhook)");
  });

  test("a failed webhook registration shows on the status line and is retried until it works", async () => {
    const { channels: set } = await setup();
    fake.failNext("setWebhook", "500", 2);
    for (const s of set.services) await s.start();
    expect(set.status.telegram).toContain("webhook registration failed: ");
    expect(JSON.stringify(set.status)).toContain("webhook registration failed");
    await eventually(() => set.status.telegram === "on (webhook)", "registration retried");
    expect(fake.calls.filter((c) => c.method === "setWebhook")).toHaveLength(3);
    expect(fake.webhook?.url).toBe(`${PUBLIC_URL}/webhooks/telegram`);
  });

  test("without TELEGRAM_WEBHOOK_SECRET a secret derived from the token is used", async () => {
    fake = startFakeTelegram();
    t = await createTestContext({ env: { TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.url, PUBLIC_URL } });
    channels = createChannels(t.ctx, { onInbound: async (m) => void received.push(m) });
    for (const s of channels.services) await s.start();
    const derived = deriveWebhookSecret(fake.token);
    expect(fake.webhook?.secret_token).toBe(derived);
    const app = createApp(t.ctx, { modules: [channels.routes] });
    const res = await app.request(
      telegramWebhookRequest(
        "http://local/webhooks/telegram",
        { update_id: 1, ...textUpdate({ chatId: 1, text: "x" }) },
        derived,
      ),
    );
    expect(res.status).toBe(200);
  });
});

describe("telegram sending", () => {
  test("send, typing and error mapping", async () => {
    const { channels: set } = await setup();
    const telegram = set.byName.get("telegram");
    if (!telegram) throw new Error("telegram channel missing");
    expect(telegram.maxLength).toBe(4096);
    const ok = await telegram.send({ channel: "telegram", chatId: "12", text: "hello" });
    expect(ok).toEqual({ ok: true, externalId: String(fake.sent[0]?.message_id) });
    expect(fake.sent[0]).toMatchObject({ chat_id: "12", text: "hello" });

    await telegram.send({ channel: "telegram", chatId: "12", text: "share?", keyboard: "request_contact" });
    expect(fake.sent[1]?.params.reply_markup).toEqual({
      keyboard: [[{ text: "📱 Share my phone number", request_contact: true }]],
      one_time_keyboard: true,
      resize_keyboard: true,
    });
    await telegram.send({ channel: "telegram", chatId: "12", text: "linked", keyboard: "remove" });
    expect(fake.sent[2]?.params.reply_markup).toEqual({ remove_keyboard: true });
    expect(fake.sent[0]?.params.reply_markup).toBeUndefined();

    await telegram.showTyping?.("12");
    expect(fake.calls.find((c) => c.method === "sendChatAction")?.params).toMatchObject({
      chat_id: "12",
      action: "typing",
    });

    fake.failNext("sendMessage", "429", 1, { retryAfterS: 7 });
    expect(await telegram.send({ channel: "telegram", chatId: "12", text: "x" })).toMatchObject({
      ok: false,
      retryable: true,
      retryAfterMs: 7000,
    });
    fake.failNext("sendMessage", "500");
    expect(await telegram.send({ channel: "telegram", chatId: "12", text: "x" })).toMatchObject({
      ok: false,
      retryable: true,
    });
    fake.failNext("sendMessage", "403");
    const blocked = await telegram.send({ channel: "telegram", chatId: "12", text: "x" });
    expect(blocked).toMatchObject({ ok: false, retryable: false });
    expect(!blocked.ok && blocked.error).toContain("Forbidden: bot was blocked by the user");
    fake.failNext("sendMessage", "400");
    expect(await telegram.send({ channel: "telegram", chatId: "nope", text: "x" })).toMatchObject({
      ok: false,
      retryable: false,
    });
  });

  test("an unreachable API is retryable and the error does not leak the token", async () => {
    await setup({ TELEGRAM_API_ROOT: "http://127.0.0.1:9" });
    const result = await channels?.byName.get("telegram")?.send({ channel: "telegram", chatId: "1", text: "x" });
    expect(result).toMatchObject({ ok: false, retryable: true });
    expect(JSON.stringify(result)).not.toContain(fake.token.split(":")[1] ?? "");
  });

  test("fetchMedia downloads via getFile into the dir with a safe name; too large is refused", async () => {
    const { channels: set } = await setup();
    const telegram = set.byName.get("telegram");
    const file = fake.addFile("JPEGDATA", "photos/file_7.jpg");
    const inbox = join(t.dir, "tenants", "x", "inbox");
    const saved = await telegram?.fetchMedia?.(
      { kind: "photo", fileId: file.file_id, mimeType: "image/jpeg" },
      saveInto(inbox),
    );
    expect(saved?.path.startsWith("inbox/")).toBe(true);
    expect(saved?.path).toMatch(/^inbox\/\d{8}-\d{6}-photo-[0-9a-f]{6}\.jpg$/);
    expect(saved?.sizeBytes).toBe(8);
    expect(readFileSync(join(inbox, "..", saved?.path ?? ""), "utf8")).toBe("JPEGDATA");

    const doc = fake.addFile("%PDF", "documents/x.pdf");
    const named = await telegram?.fetchMedia?.(
      { kind: "document", fileId: doc.file_id, fileName: "../../etc/passwd.pdf" },
      saveInto(inbox),
    );
    expect(named?.path).toMatch(/^inbox\/\d{8}-\d{6}-document-etc-passwd-[0-9a-f]{6}\.pdf$/);

    await expect(
      telegram?.fetchMedia?.({ kind: "video", fileId: "F", sizeBytes: 21 * 1024 * 1024 }, saveInto(inbox)),
    ).rejects.toBeInstanceOf(MediaFetchError);
  });
});

describe("telegram polling", () => {
  test("the offset is stored after each handled update; a restart resumes without loss or repeats", async () => {
    const seen: string[] = [];
    let failOnce = true;
    const handler = async (m: InboundMessage) => {
      if (m.text === "flaky" && failOnce) {
        failOnce = false;
        throw new Error("store failed once");
      }
      seen.push(m.text);
    };
    await setup({ TELEGRAM_MODE: "polling", PUBLIC_URL: "" }, handler);
    expect(channels?.status.telegram).toBe("on (polling)");
    const first = fake.pushUpdate(textUpdate({ chatId: 1, text: "one" }));
    fake.pushUpdate(textUpdate({ chatId: 1, text: "flaky" }));
    const third = fake.pushUpdate(textUpdate({ chatId: 1, text: "three" }));
    for (const s of channels?.services ?? []) await s.start();
    await eventually(() => seen.length === 3, "three updates");
    expect(seen).toEqual(["one", "flaky", "three"]);
    expect(fake.calls.some((c) => c.method === "deleteWebhook")).toBe(true);
    for (const s of [...(channels?.services ?? [])].reverse()) await s.stop();
    const stored = await t.ctx.db.all<{ value: string }>(
      sql`SELECT value FROM app_state WHERE key = 'telegram.offset'`,
    );
    expect(stored[0]?.value).toBe(String(third.update_id + 1));

    const servedBeforeRestart = fake.served.length;
    // "Restart": a new channel set on the same database; two more updates arrive meanwhile.
    fake.pushUpdate(textUpdate({ chatId: 1, text: "four" }));
    fake.pushUpdate(textUpdate({ chatId: 1, text: "five" }));
    channels = createChannels(t.ctx, { onInbound: handler, telegram: { pollTimeoutS: 1, pollRetryMs: 20 } });
    for (const s of channels.services) await s.start();
    await eventually(() => seen.length === 5, "two more updates");
    await Bun.sleep(50);
    expect(seen).toEqual(["one", "flaky", "three", "four", "five"]);
    expect(fake.served.filter((id) => id === first.update_id)).toHaveLength(1);
    // After the restart Telegram was asked only for what came after the stored offset.
    expect(fake.served.slice(servedBeforeRestart).every((id) => id > third.update_id)).toBe(true);
  });
});

describe("telegramUpdateToInbound", () => {
  test("stickers and locations are described; group chats use the sender's name", () => {
    const sticker = telegramUpdateToInbound(
      {
        update_id: 1,
        message: { message_id: 1, date: 0, chat: { id: -5, type: "group", title: "Shop" }, sticker: { emoji: "👍" } },
      } as never,
      0,
    );
    expect(sticker).toMatchObject({ text: "[sticker 👍]", chatId: "-5", senderName: "Shop" });
    expect(telegramUpdateToInbound({ update_id: 2 } as never, 0)).toBeNull();
  });
});
