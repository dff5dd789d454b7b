import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { channelsHealth, createChannels } from "../../src/channels/index.ts";
import { formatMessage } from "../../src/cli/tenant-commands.ts";
import type { Outbox } from "../../src/conversation/index.ts";
import { createOutbox, outboundFileRoutes, recordDeliveryStatus } from "../../src/conversation/index.ts";
import { timelineWritten } from "../../src/conversation/timeline.ts";
import { setCredentials } from "../../src/credentials/index.ts";
import { schema } from "../../src/db/index.ts";
import { adminRoutes } from "../../src/http/admin/index.ts";
import { createApp } from "../../src/http/app.ts";
import type { FakeTwilio } from "../fakes/twilio.ts";
import { signedWhatsAppRequest, startFakeTwilio } from "../fakes/twilio.ts";
import type { TenantRow, TestContext } from "../helpers/index.ts";
import { createTestContext, eventually, FakeClock, insertTenant, TEST_ADMIN_KEY } from "../helpers/index.ts";

const PUBLIC_URL = "https://staff.example.com";
const TEMPLATE = `HX${"ab".repeat(16)}`;
const CUSTOMER = "+18015550101";
const HOUR_MS = 3_600_000;

let t: TestContext;
let fake: FakeTwilio;
let outbox: Outbox;

afterEach(async () => {
  await outbox?.stop();
  await fake?.stop();
  await t?.cleanup();
});

async function setup(env: Record<string, string> = {}) {
  const clock = new FakeClock();
  // The fake Twilio fetches MediaUrls from the app in-process (PUBLIC_URL is not a real host).
  let app: ReturnType<typeof createApp> | undefined;
  fake = startFakeTwilio({
    enforceWindow: true,
    now: () => clock.now(),
    fetchMedia: async (url) =>
      app ? app.request(url.replace(PUBLIC_URL, "http://local")) : new Response(null, { status: 502 }),
  });
  t = await createTestContext({
    clock,
    env: {
      TWILIO_ACCOUNT_SID: fake.accountSid,
      TWILIO_AUTH_TOKEN: fake.authToken,
      TWILIO_WHATSAPP_FROM: "+14155238886",
      TWILIO_API_BASE: fake.url,
      PUBLIC_URL,
      ...env,
    },
  });
  const channels = createChannels(t.ctx, { onInbound: async () => {} });
  channels.setDeliveryStatusHandler(async (u) => void (await recordDeliveryStatus(t.ctx, u)));
  app = createApp(t.ctx, { modules: [channels.routes, outboundFileRoutes(t.ctx), adminRoutes(t.ctx)] });
  outbox = createOutbox(t.ctx, channels.byName, { baseBackoffMs: 20, maxBackoffMs: 100, sweepMs: 2000 });
  await outbox.start();
  const tenant = await insertTenant(t.ctx, { channel: "whatsapp", phone_number: CUSTOMER });
  return { app, clock, tenant };
}

/** The customer wrote `agoMs` before the clock's now (stored as the pipeline stores it, and seen by the fake). */
async function customerWrote(tenant: TenantRow, clock: FakeClock, agoMs: number, kind: "chat" | "task" = "chat") {
  const at = clock.now() - agoMs;
  await t.ctx.db.insert(schema.messages).values({
    id: crypto.randomUUID(),
    tenant_id: tenant.id,
    direction: "in",
    channel: "whatsapp",
    chat_id: CUSTOMER,
    external_id: `SM${crypto.randomUUID().replace(/-/g, "")}`,
    kind,
    body: "hi",
    status: "done",
    created_at: new Date(at).toISOString(),
  });
  if (kind !== "task") fake.noteInbound(CUSTOMER, at);
}

/** Everything in the tenant's timeline files so far. */
async function timelineOf(tenant: TenantRow): Promise<string> {
  await timelineWritten();
  const dir = join(t.ctx.config.TENANTS_DIR, tenant.id, "timeline");
  if (!existsSync(dir)) return "";
  return readdirSync(dir)
    .map((name) => readFileSync(join(dir, name), "utf8"))
    .join("\n");
}

async function outRow(id: string) {
  const [row] = await t.ctx.db.select().from(schema.messages).where(eq(schema.messages.id, id));
  return row!;
}

async function settled(id: string) {
  return eventually(async () => {
    const row = await outRow(id);
    return row.status !== "pending" && row;
  }, `message ${id} sent or failed`);
}

describe("WhatsApp 24-hour window", () => {
  test("inside the window a reply goes as Body, with a StatusCallback", async () => {
    const { clock, tenant } = await setup({ WHATSAPP_TEMPLATE_SID: TEMPLATE });
    await customerWrote(tenant, clock, 2 * HOUR_MS);
    const [id] = await outbox.enqueue({ tenantId: tenant.id, channel: "whatsapp", chatId: CUSTOMER, text: "Hello" });
    expect((await settled(id!)).status).toBe("sent");
    expect(fake.sent).toHaveLength(1);
    expect(fake.sent[0]!.body).toBe("Hello");
    expect(fake.sent[0]!.contentSid).toBeUndefined();
    expect(fake.sent[0]!.statusCallback).toBe(`${PUBLIC_URL}/webhooks/whatsapp/status`);
  });

  test("customer wrote 25 h ago: a scheduled reminder goes as ContentSid with the text as variable 1, no Body", async () => {
    const { clock, tenant } = await setup({ WHATSAPP_TEMPLATE_SID: TEMPLATE });
    await customerWrote(tenant, clock, 25 * HOUR_MS);
    // The task's own prompt row is ours, not the customer's: it does not reopen the window.
    await customerWrote(tenant, clock, 60_000, "task");
    const [id] = await outbox.enqueue({
      tenantId: tenant.id,
      channel: "whatsapp",
      chatId: CUSTOMER,
      text: "Reminder:\norder milk",
      kind: "task",
    });
    const row = await settled(id!);
    expect(row.status).toBe("sent");
    expect(row.external_id).toBe(fake.sent[0]!.sid);
    expect(fake.sent[0]!.contentSid).toBe(TEMPLATE);
    expect(JSON.parse(fake.sent[0]!.contentVariables!)).toEqual({ "1": "Reminder: order milk" });
    expect(fake.sent[0]!.body).toBe("");
  });

  test("outside the window a long reply is split to the template variable's limit", async () => {
    const { clock, tenant } = await setup({ WHATSAPP_TEMPLATE_SID: TEMPLATE });
    await customerWrote(tenant, clock, 30 * HOUR_MS);
    const text = Array.from({ length: 60 }, (_, i) => `Sentence number ${i}.`).join(" ");
    const ids = await outbox.enqueue({ tenantId: tenant.id, channel: "whatsapp", chatId: CUSTOMER, text });
    expect(ids.length).toBeGreaterThan(1);
    for (const id of ids) expect((await settled(id)).status).toBe("sent");
    for (const m of fake.sent)
      expect((JSON.parse(m.contentVariables!) as { "1": string })["1"].length).toBeLessThanOrEqual(255);
  });

  test("a tenant's own WHATSAPP_TEMPLATE_SID credential overrides the platform's", async () => {
    const own = `HX${"cd".repeat(16)}`;
    const { clock, tenant } = await setup({ WHATSAPP_TEMPLATE_SID: TEMPLATE });
    await setCredentials(t.ctx, tenant.id, { WHATSAPP_TEMPLATE_SID: own });
    await customerWrote(tenant, clock, 25 * HOUR_MS);
    const [id] = await outbox.enqueue({ tenantId: tenant.id, channel: "whatsapp", chatId: CUSTOMER, text: "Hi" });
    expect((await settled(id!)).status).toBe("sent");
    expect(fake.sent[0]!.contentSid).toBe(own);
  });

  test("no template: the row is failed with outside_whatsapp_window, the text kept, nothing sent; /health counts it", async () => {
    const { app, clock, tenant } = await setup();
    await customerWrote(tenant, clock, 25 * HOUR_MS);
    const [id] = await outbox.enqueue({
      tenantId: tenant.id,
      channel: "whatsapp",
      chatId: CUSTOMER,
      text: "Late reply",
    });
    const row = await settled(id!);
    expect(row.status).toBe("failed");
    expect(row.error).toBe("outside_whatsapp_window");
    expect(row.body).toBe("Late reply");
    expect(fake.attempts).toBe(0);
    expect(await outbox.outsideWindowFailures()).toBe(1);
    const health = await channelsHealth({ status: { whatsapp: "on" } }, outbox)();
    expect(health.fields.whatsapp_outside_window_failed_24h).toBe(1);
    expect(await timelineOf(tenant)).toContain("not delivered (outside_whatsapp_window)");
    expect(formatMessage(row)).toContain("(error: outside_whatsapp_window)");
    void app;
  });

  test("Twilio answers 63016 anyway: retried once as the template", async () => {
    const { clock, tenant } = await setup({ WHATSAPP_TEMPLATE_SID: TEMPLATE });
    await customerWrote(tenant, clock, HOUR_MS);
    fake.failNext("63016");
    const [id] = await outbox.enqueue({ tenantId: tenant.id, channel: "whatsapp", chatId: CUSTOMER, text: "Skewed" });
    const row = await settled(id!);
    expect(row.status).toBe("sent");
    expect(fake.attempts).toBe(2);
    expect(fake.sent).toHaveLength(1);
    expect(fake.sent[0]!.contentSid).toBe(TEMPLATE);
    expect(JSON.parse(fake.sent[0]!.contentVariables!)).toEqual({ "1": "Skewed" });
  });

  test("63016 with no template: failed outside_whatsapp_window with error code 63016, not retried", async () => {
    const { clock, tenant } = await setup();
    await customerWrote(tenant, clock, HOUR_MS);
    fake.failNext("63016");
    const [id] = await outbox.enqueue({ tenantId: tenant.id, channel: "whatsapp", chatId: CUSTOMER, text: "Skewed" });
    const row = await settled(id!);
    expect(row.status).toBe("failed");
    expect(row.error).toBe("outside_whatsapp_window");
    expect(row.error_code).toBe("63016");
    expect(fake.attempts).toBe(1);
  });
});

describe("WhatsApp delivery receipts", () => {
  async function sentMessage() {
    const env = await setup();
    await customerWrote(env.tenant, env.clock, HOUR_MS);
    const [id] = await outbox.enqueue({ tenantId: env.tenant.id, channel: "whatsapp", chatId: CUSTOMER, text: "Hi" });
    const row = await settled(id!);
    expect(row.status).toBe("sent");
    return { ...env, id: id!, row };
  }

  test("delivered → read is recorded; a late delivered or sent does not move it back; repeats change nothing", async () => {
    const { app, id, row, tenant } = await sentMessage();
    const post = (status: string, opts: { errorCode?: string; signature?: string | null } = {}) =>
      postStatus(app, row.external_id!, status, opts);
    expect((await post("sent")).status).toBe(204);
    expect((await outRow(id)).delivery_status).toBeNull();
    expect((await post("delivered")).status).toBe(204);
    expect((await outRow(id)).delivery_status).toBe("delivered");
    expect((await post("read")).status).toBe(204);
    expect((await post("delivered")).status).toBe(204);
    expect((await post("sent")).status).toBe(204);
    expect((await post("read")).status).toBe(204);
    const stored = await outRow(id);
    expect(stored.delivery_status).toBe("read");
    expect(formatMessage(stored)).toContain("[read]");
    const timeline = await timelineOf(tenant);
    expect(timeline).toContain("✓ delivered: Hi");
    expect(timeline.match(/✓ read: Hi/g)).toHaveLength(1); // the repeated "read" wrote nothing
    const api = await app.request(`/admin/tenants/${tenant.id}/messages`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    const page = (await api.json()) as { messages: { id: string; delivery_status: string | null }[] };
    expect(page.messages.find((m) => m.id === id)?.delivery_status).toBe("read");
  });

  test("undelivered with its error code is terminal", async () => {
    const { app, id, row } = await sentMessage();
    expect((await postStatus(app, row.external_id!, "undelivered", { errorCode: "63024" })).status).toBe(204);
    await postStatus(app, row.external_id!, "read");
    await postStatus(app, row.external_id!, "failed", { errorCode: "30008" });
    const stored = await outRow(id);
    expect(stored.delivery_status).toBe("undelivered");
    expect(stored.error_code).toBe("63024");
  });

  test("a bad or missing signature is refused with 403 and changes nothing", async () => {
    const { app, id, row } = await sentMessage();
    const bad = await postStatus(app, row.external_id!, "delivered", { signature: "bm90LXZhbGlk" });
    expect(bad.status).toBe(403);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("bad_signature");
    expect((await postStatus(app, row.external_id!, "delivered", { signature: null })).status).toBe(403);
    expect((await outRow(id)).delivery_status).toBeNull();
  });

  test("a signed body that is not a status callback is a 400", async () => {
    const { app } = await sentMessage();
    const params = { MessageSid: "not-a-sid", MessageStatus: "delivered" };
    const res = await app.request(
      signedWhatsAppRequest("http://local/webhooks/whatsapp/status", `${PUBLIC_URL}/webhooks/whatsapp/status`, params),
    );
    expect(res.status).toBe(400);
  });
});

/** The fake Twilio's signed status callback for `sid`, delivered to the app in-process. */
function postStatus(
  app: ReturnType<typeof createApp>,
  sid: string,
  status: string,
  opts: { errorCode?: string; signature?: string | null } = {},
): Promise<Response> {
  return fake.sendStatus(sid, status, {
    ...opts,
    deliver: (req) => app.request(new Request(req.url.replace(PUBLIC_URL, "http://local"), req)),
  });
}
