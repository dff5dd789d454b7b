import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { eq } from "drizzle-orm";
import { createChannels } from "../../src/channels/index.ts";
import type { Outbox } from "../../src/conversation/index.ts";
import { createOutbox, outboundFileRoutes } from "../../src/conversation/index.ts";
import { schema } from "../../src/db/index.ts";
import { createApp } from "../../src/http/app.ts";
import { createAgentTools } from "../../src/mcp/index.ts";
import type { Tenant } from "../../src/tenants/index.ts";
import { createTenant, setTelegramChat, workspacePath } from "../../src/tenants/index.ts";
import type { FakeTelegram } from "../fakes/telegram.ts";
import { FAKE_BOT_TOKEN, startFakeTelegram } from "../fakes/telegram.ts";
import type { FakeTwilio } from "../fakes/twilio.ts";
import { startFakeTwilio } from "../fakes/twilio.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, eventually, FakeClock } from "../helpers/index.ts";
import { mcpClient } from "./mcp-client.ts";

const PUBLIC_URL = "https://staff.example.com";
const PHONE = "+18015550177";
/** A small PDF and PNG, with every byte value so a text decoding on the way would show. */
const PDF = new Uint8Array([...new TextEncoder().encode("%PDF-1.4\n"), ...Array.from({ length: 256 }, (_, i) => i)]);
const PNG = new Uint8Array([
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
  ...Array.from({ length: 300 }, (_, i) => (i * 7) % 256),
]);

let t: TestContext;
let tg: FakeTelegram;
let tw: FakeTwilio;
let outbox: Outbox;

afterEach(async () => {
  await outbox?.stop();
  await tg?.stop();
  await tw?.stop();
  await t?.cleanup();
});

async function setup(env: Record<string, string> = { PUBLIC_URL }) {
  const clock = new FakeClock(Date.now());
  let app: ReturnType<typeof createApp> | undefined;
  tg = startFakeTelegram();
  tw = startFakeTwilio({
    enforceWindow: true,
    now: () => clock.now(),
    fetchMedia: async (url) =>
      app ? app.request(url.replace(PUBLIC_URL, "http://local")) : new Response(null, { status: 502 }),
  });
  t = await createTestContext({
    clock,
    env: {
      TELEGRAM_BOT_TOKEN: FAKE_BOT_TOKEN,
      TELEGRAM_API_ROOT: tg.url,
      TELEGRAM_MODE: "polling",
      TWILIO_ACCOUNT_SID: tw.accountSid,
      TWILIO_AUTH_TOKEN: tw.authToken,
      TWILIO_WHATSAPP_FROM: "+14155238886",
      TWILIO_API_BASE: tw.url,
      ...env,
    },
  });
  const channels = createChannels(t.ctx, { onInbound: async () => {} });
  outbox = createOutbox(t.ctx, channels.byName, { baseBackoffMs: 20, maxBackoffMs: 100, sweepMs: 2000 });
  const tools = createAgentTools(t.ctx, { outbox });
  app = createApp(t.ctx, { modules: [tools.routes, outboundFileRoutes(t.ctx)] });
  const telegram = await createTenant(t.ctx, { name: "Alpine Bakery", phone: "+18015550101", channel: "telegram" });
  await setTelegramChat(t.ctx.db, telegram.id, "111");
  const whatsapp = await createTenant(t.ctx, { name: "Willow Salon", phone: PHONE, channel: "whatsapp" });
  await customerWrote(whatsapp, clock.now() - 3_600_000);
  tw.noteInbound(PHONE, clock.now() - 3_600_000);
  const client = mcpClient(app);
  const call = (tenant: Tenant, args: Record<string, unknown>) =>
    client.call(tools.issueToken(tenant.id, crypto.randomUUID()).token, "send_file", args);
  return { app, clock, telegram, whatsapp, call };
}

async function customerWrote(tenant: Tenant, atMs: number) {
  await t.ctx.db.insert(schema.messages).values({
    id: crypto.randomUUID(),
    tenant_id: tenant.id,
    direction: "in",
    channel: "whatsapp",
    chat_id: tenant.phone_number,
    external_id: `SM${crypto.randomUUID().replace(/-/g, "")}`,
    kind: "chat",
    status: "done",
    created_at: new Date(atMs).toISOString(),
  });
}

function putFile(tenant: Tenant, path: string, bytes: Uint8Array): string {
  const full = join(workspacePath(t.ctx.config, tenant.id), path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, bytes);
  return full;
}

async function fileRows(tenant: Tenant) {
  return t.ctx.db
    .select()
    .from(schema.messages)
    .where(eq(schema.messages.tenant_id, tenant.id))
    .then((rows) => rows.filter((r) => r.direction === "out"));
}

describe("send_file on Telegram", () => {
  test("a PDF goes as sendDocument and a PNG as sendPhoto, bytes intact, once", async () => {
    const { telegram, call } = await setup();
    putFile(telegram, "quotes/quote-42.pdf", PDF);
    putFile(telegram, "photos/cake.png", PNG);
    const pdf = await call(telegram, { path: "quotes/quote-42.pdf", caption: "Your quote" });
    expect(pdf.isError).toBe(false);
    expect(pdf.text).toContain("quote-42.pdf");
    expect((await call(telegram, { path: "./photos/cake.png" })).isError).toBe(false);
    await outbox.start();
    await eventually(() => tg.sentFiles.length === 2, "both files at the fake Telegram");
    const [doc, photo] = tg.sentFiles;
    expect(doc).toMatchObject({
      method: "sendDocument",
      chat_id: "111",
      caption: "Your quote",
      fileName: "quote-42.pdf",
    });
    expect(doc!.bytes).toEqual(PDF);
    expect(photo).toMatchObject({ method: "sendPhoto", chat_id: "111", fileName: "cake.png" });
    expect(photo!.bytes).toEqual(PNG);
    expect(tg.calls.some((c) => c.method === "sendChatAction" && c.params.action === "upload_document")).toBe(true);
    const rows = await eventually(async () => {
      const all = await fileRows(telegram);
      return all.every((r) => r.status === "sent") && all;
    }, "both rows marked sent");
    expect(rows).toHaveLength(2);
    expect(JSON.parse(rows[0]!.media!)).toEqual({
      file: { fileName: "quote-42.pdf", mimeType: "application/pdf", sizeBytes: PDF.byteLength, kind: "document" },
    });
  });

  test("the bytes sent are the ones read at the call: changing the file afterwards changes nothing", async () => {
    const { telegram, call } = await setup();
    const full = putFile(telegram, "quote.pdf", PDF);
    expect((await call(telegram, { path: "quote.pdf" })).isError).toBe(false);
    writeFileSync(full, "swapped after the call");
    await outbox.start();
    await eventually(() => tg.sentFiles.length === 1, "the file at the fake Telegram");
    expect(tg.sentFiles[0]!.bytes).toEqual(PDF);
  });

  test("a failed upload is retried like text: the same bytes arrive once", async () => {
    const { clock, telegram, call } = await setup();
    putFile(telegram, "quote.pdf", PDF);
    tg.failNext("sendDocument", "500", 2);
    expect((await call(telegram, { path: "quote.pdf" })).isError).toBe(false);
    await outbox.start();
    const [row] = await eventually(async () => {
      const all = await fileRows(telegram);
      if (all[0]?.status === "sent") return all;
      clock.advance(1000); // the retry's backoff passes on the test's clock
      outbox.wake();
      return false;
    }, "the row sent after two failures");
    expect(row!.attempts).toBe(3);
    expect(tg.sentFiles).toHaveLength(1);
    expect(tg.sentFiles[0]!.bytes).toEqual(PDF);
  });

  test("a path with ../, an absolute path and a symlink out are refused with clear tool errors; a missing file too", async () => {
    const { telegram, whatsapp, call } = await setup();
    putFile(whatsapp, "secret.pdf", PDF);
    const up = await call(telegram, { path: `../${whatsapp.id}/secret.pdf` });
    expect(up.isError).toBe(true);
    expect(up.text).toContain("outside your working folder");
    const absolute = await call(telegram, { path: "/etc/passwd" });
    expect(absolute.isError).toBe(true);
    expect(absolute.text).toContain("outside your working folder");
    symlinkSync(
      join(workspacePath(t.ctx.config, whatsapp.id), "secret.pdf"),
      join(workspacePath(t.ctx.config, telegram.id), "link.pdf"),
    );
    const link = await call(telegram, { path: "link.pdf" });
    expect(link.isError).toBe(true);
    expect(link.text).toContain("symbolic link");
    const missing = await call(telegram, { path: "nope.pdf" });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain("No file at nope.pdf");
    expect(await fileRows(telegram)).toHaveLength(0);
  });

  test("a photo over Telegram's 10 MB is refused, naming the limit", async () => {
    const { telegram, call } = await setup();
    putFile(telegram, "big.png", new Uint8Array(10 * 1024 * 1024 + 1));
    const big = await call(telegram, { path: "big.png" });
    expect(big.isError).toBe(true);
    expect(big.text).toContain("10 MB");
  });
});

describe("send_file on WhatsApp", () => {
  test("a PDF and a PNG go as MediaUrl; Twilio fetches exactly their bytes with their content type", async () => {
    const { whatsapp, call } = await setup();
    putFile(whatsapp, "quote.pdf", PDF);
    putFile(whatsapp, "cake.png", PNG);
    expect((await call(whatsapp, { path: "quote.pdf", caption: "Quote" })).isError).toBe(false);
    expect((await call(whatsapp, { path: "cake.png" })).isError).toBe(false);
    await outbox.start();
    await eventually(() => tw.sent.length === 2, "both files at the fake Twilio");
    const [pdf, png] = tw.sent;
    expect(pdf!.mediaUrls[0]).toStartWith(`${PUBLIC_URL}/media/`);
    expect(pdf!.body).toBe("Quote");
    expect(pdf!.fetchedMedia[0]).toMatchObject({ status: 200, contentType: "application/pdf" });
    expect(pdf!.fetchedMedia[0]!.bytes).toEqual(PDF);
    expect(png!.fetchedMedia[0]).toMatchObject({ status: 200, contentType: "image/png" });
    expect(png!.fetchedMedia[0]!.bytes).toEqual(PNG);
    // The fake records a message before it answers; the row is marked sent right after the answer.
    const rows = await eventually(async () => {
      const all = await fileRows(whatsapp);
      return all.every((r) => r.status === "sent") && all;
    }, "both rows marked sent");
    expect(rows.map((r) => r.external_id).sort()).toEqual([pdf!.sid, png!.sid].sort());
  });

  test("the media URL expires after an hour; a changed token or another path is a 404", async () => {
    const { app, clock, whatsapp, call } = await setup();
    putFile(whatsapp, "quote.pdf", PDF);
    expect((await call(whatsapp, { path: "quote.pdf" })).isError).toBe(false);
    await outbox.start();
    await eventually(() => tw.sent.length === 1, "the file at the fake Twilio");
    const path = tw.sent[0]!.mediaUrls[0]!.slice(PUBLIC_URL.length);
    expect((await app.request(path)).status).toBe(200);
    const token = path.slice("/media/".length);
    const [id, expires, sig] = token.split(".");
    const otherId = crypto.randomUUID();
    expect((await app.request(`/media/${otherId}.${expires}.${sig}`)).status).toBe(404);
    expect((await app.request(`/media/${id}.${Number(expires) + 3_600_000}.${sig}`)).status).toBe(404);
    expect((await app.request("/media/anything")).status).toBe(404);
    clock.advance(3_600_000 + 1);
    const expired = await app.request(path);
    expect(expired.status).toBe(404);
    expect(((await expired.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  test("without PUBLIC_URL a WhatsApp file is refused clearly", async () => {
    const { whatsapp, call } = await setup({});
    putFile(whatsapp, "quote.pdf", PDF);
    const result = await call(whatsapp, { path: "quote.pdf" });
    expect(result.isError).toBe(true);
    expect(result.text).toContain("PUBLIC_URL");
  });

  test("outside the 24-hour window a file is refused (outside_whatsapp_window)", async () => {
    const { clock, whatsapp, call } = await setup();
    clock.advance(24 * 3_600_000);
    putFile(whatsapp, "quote.pdf", PDF);
    const result = await call(whatsapp, { path: "quote.pdf" });
    expect(result.isError).toBe(true);
    expect(result.text).toContain("outside_whatsapp_window");
  });
});
