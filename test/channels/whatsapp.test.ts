import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Channel } from "../../src/channels/index.ts";
import { createChannels } from "../../src/channels/index.ts";
import { MediaFetchError } from "../../src/channels/media.ts";
import type { InboundHandler, InboundMessage } from "../../src/channels/types.ts";
import { EMPTY_TWIML } from "../../src/channels/whatsapp.ts";
import { DatabaseBusyError } from "../../src/db/client.ts";
import { createApp } from "../../src/http/app.ts";
import type { FakeTwilio } from "../fakes/twilio.ts";
import { signedWhatsAppRequest, startFakeTwilio, whatsappInboundParams } from "../fakes/twilio.ts";
import type { TestContext } from "../helpers/context.ts";
import { createTestContext } from "../helpers/context.ts";
import { saveInto } from "../helpers/media-sink.ts";

const PUBLIC_URL = "https://staff.example.com";
const SIGNED_URL = `${PUBLIC_URL}/webhooks/whatsapp`;

let t: TestContext;
let fake: FakeTwilio;
const received: InboundMessage[] = [];

afterEach(async () => {
  received.length = 0;
  await fake?.stop();
  await t?.cleanup();
});

async function setup(env: Record<string, string> = {}, onInbound: InboundHandler = async (m) => void received.push(m)) {
  fake = startFakeTwilio();
  t = await createTestContext({
    env: {
      TWILIO_ACCOUNT_SID: fake.accountSid,
      TWILIO_AUTH_TOKEN: fake.authToken,
      TWILIO_WHATSAPP_FROM: "+14155238886",
      TWILIO_API_BASE: fake.url,
      PUBLIC_URL,
      ...env,
    },
  });
  const channels = createChannels(t.ctx, { onInbound });
  const app = createApp(t.ctx, { modules: [channels.routes] });
  const post = (
    params: Record<string, string>,
    options: { signature?: string | null; authToken?: string; signedUrl?: string } = {},
  ) =>
    app.request(
      signedWhatsAppRequest("http://local/webhooks/whatsapp", options.signedUrl ?? SIGNED_URL, params, {
        authToken: fake.authToken,
        ...options,
      }),
    );
  const whatsapp = channels.byName.get("whatsapp") as Channel;
  return { app, post, channels, whatsapp };
}

describe("whatsapp webhook", () => {
  test("a signed message becomes an InboundMessage and Twilio gets empty TwiML", async () => {
    const { post } = await setup();
    const params = whatsappInboundParams({
      from: "+18015551234",
      body: "Hello shop",
      messageSid: "SM0001",
      profileName: "Bob",
    });
    const res = await post(params);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/xml");
    expect(await res.text()).toBe(EMPTY_TWIML);
    expect(received).toEqual([
      {
        channel: "whatsapp",
        externalId: "SM0001",
        chatId: "+18015551234",
        senderPhone: "+18015551234",
        senderName: "Bob",
        text: "Hello shop",
        media: [],
        receivedAtMs: expect.any(Number),
      },
    ]);
  });

  test("media fields become media refs", async () => {
    const { post } = await setup();
    const params = whatsappInboundParams({
      from: "+18015551234",
      media: [
        { url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", contentType: "image/jpeg" },
        { url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", contentType: "audio/ogg" },
      ],
    });
    expect((await post(params)).status).toBe(200);
    expect(received[0]?.media).toEqual([
      {
        kind: "photo",
        url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        mimeType: "image/jpeg",
      },
      {
        kind: "voice",
        url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
        mimeType: "audio/ogg",
      },
    ]);
  });

  test("a bad, missing or wrongly-scoped signature is answered 403 and nothing reaches the handler", async () => {
    const { post } = await setup();
    const params = whatsappInboundParams({ from: "+18015551234", body: "hi" });
    const bad = await post(params, { signature: "bm90LWEtc2lnbmF0dXJl" });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toEqual({ error: { code: "bad_signature", message: expect.any(String) } });
    expect((await post(params, { signature: null })).status).toBe(403);
    expect((await post(params, { authToken: "another-token" })).status).toBe(403);
    expect((await post(params, { signedUrl: "https://evil.example.com/webhooks/whatsapp" })).status).toBe(403);
    expect(received).toHaveLength(0);
  });

  test("a handler failure is answered 500", async () => {
    const { post } = await setup({}, async () => {
      throw new Error("disk full");
    });
    expect((await post(whatsappInboundParams({ from: "+18015551234", body: "hi" }))).status).toBe(500);
  });

  test("a database busy past the retry budget is answered 503 with Retry-After (Twilio delivers again), not 500", async () => {
    const { post } = await setup({}, async () => {
      throw new DatabaseBusyError(4000);
    });
    const res = await post(whatsappInboundParams({ from: "+18015551234", body: "hi" }));
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("a signed but malformed form is 400", async () => {
    const { post } = await setup();
    const res = await post({ MessageSid: "SM1", From: "+18015551234", Body: "no whatsapp: prefix" });
    expect(res.status).toBe(400);
    expect(received).toHaveLength(0);
  });

  test("without PUBLIC_URL signatures cannot be checked: inbound is refused, sending still works", async () => {
    const { post, channels, whatsapp } = await setup({ PUBLIC_URL: "" });
    expect(channels.status.whatsapp).toContain("PUBLIC_URL is not set");
    expect((await post(whatsappInboundParams({ from: "+18015551234", body: "hi" }))).status).toBe(503);
    expect(await whatsapp.send({ channel: "whatsapp", chatId: "+18015551234", text: "x" })).toMatchObject({ ok: true });
  });
});

describe("whatsapp sending", () => {
  test("messages.create goes to the fake from the WhatsApp number; failures are mapped", async () => {
    const { whatsapp } = await setup();
    expect(whatsapp.maxLength).toBe(1600);
    const ok = await whatsapp.send({ channel: "whatsapp", chatId: "+18015551234", text: "Your order is ready" });
    expect(ok).toEqual({ ok: true, externalId: fake.sent[0]?.sid ?? "" });
    expect(fake.sent[0]).toMatchObject({
      from: "whatsapp:+14155238886",
      to: "whatsapp:+18015551234",
      body: "Your order is ready",
    });
    expect(fake.sent[0]?.sid).toMatch(/^SM[0-9a-f]{32}$/);

    fake.failNext("429");
    expect(await whatsapp.send({ channel: "whatsapp", chatId: "+18015551234", text: "x" })).toMatchObject({
      ok: false,
      retryable: true,
    });
    fake.failNext("500");
    expect(await whatsapp.send({ channel: "whatsapp", chatId: "+18015551234", text: "x" })).toMatchObject({
      ok: false,
      retryable: true,
    });
    fake.failNext("63016");
    const outside = await whatsapp.send({ channel: "whatsapp", chatId: "+18015551234", text: "x" });
    expect(outside).toMatchObject({ ok: false, retryable: false });
    expect(!outside.ok && outside.error).toContain("63016");
    fake.failNext("21211");
    expect(await whatsapp.send({ channel: "whatsapp", chatId: "+1", text: "x" })).toMatchObject({
      ok: false,
      retryable: false,
    });
    expect(fake.sent).toHaveLength(1);
  });

  test("fetchMedia uses the account's basic auth, a safe name and the size limit", async () => {
    const { whatsapp } = await setup();
    const url = fake.addMedia("PNGDATA", "image/png");
    const inbox = join(t.dir, "tenants", "x", "inbox");
    const saved = await whatsapp.fetchMedia?.({ kind: "photo", url, mimeType: "image/png" }, saveInto(inbox));
    expect(fake.mediaRequests).toEqual([{ path: new URL(url).pathname, authorized: true }]);
    expect(saved?.path).toMatch(/^inbox\/\d{8}-\d{6}-photo-[0-9a-f]{6}\.png$/);
    expect(readFileSync(join(inbox, "..", saved?.path ?? ""), "utf8")).toBe("PNGDATA");

    const big = fake.addMedia(new Uint8Array(64), "application/pdf");
    const small = createChannels(t.ctx, { whatsapp: { maxMediaBytes: 16 } }).byName.get("whatsapp");
    await expect(small?.fetchMedia?.({ kind: "document", url: big }, saveInto(inbox))).rejects.toThrow("too large");
    await expect(
      whatsapp.fetchMedia?.({ kind: "photo", url: "https://attacker.example.com/x.jpg" }, saveInto(inbox)),
    ).rejects.toBeInstanceOf(MediaFetchError);
  });
});
