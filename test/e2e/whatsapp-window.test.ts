// WhatsApp's 24-hour window end to end: the customer last wrote 25 h ago, so a scheduled reminder run by
// the REAL Claude CLI goes out as the template (ContentSid + ContentVariables, no Body) through the fake
// Twilio, which enforces the window; its signed status callbacks land on the row, never moving backwards.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeAnthropic } from "../fakes/anthropic.ts";
import { startFakeTelegram } from "../fakes/telegram.ts";
import { startFakeTwilio } from "../fakes/twilio.ts";
import { eventually, freePort } from "../helpers/index.ts";
import type { Fakes } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv } from "./stack.ts";

const TEMPLATE = `HX${"5e".repeat(16)}`;
const PHONE = "+18015550801";
const DAY_MS = 24 * 3_600_000;

describe.skipIf(!HAS_REAL_CLI)("whatsapp window end to end (real server, real CLI)", () => {
  let fakes: Fakes;
  let stack: StackClient;

  beforeAll(async () => {
    const anthropic = startFakeAnthropic();
    const telegram = startFakeTelegram();
    const twilio = startFakeTwilio({ enforceWindow: true });
    fakes = {
      anthropic,
      telegram,
      twilio,
      stop: async () => void (await Promise.all([anthropic.stop(), telegram.stop(), twilio.stop()])),
    };
    fakes.anthropic.setHandler(() => ({ type: "text", text: "Reminder: please confirm tomorrow's delivery." }));
    stack = new StackClient(
      await spawnServer({
        env: stackEnv(fakes, await freePort(), { WHATSAPP_TEMPLATE_SID: TEMPLATE, AGENT_TIMEOUT_MS: "60000" }),
      }),
      fakes,
    );
  });
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
  }, 30_000);

  function deliveryOf(sid: string): { delivery_status: string | null; error_code: string | null } | null {
    const db = new Database(stack.server.dbPath, { readonly: true });
    try {
      return db
        .query("SELECT delivery_status, error_code FROM messages WHERE direction = 'out' AND external_id = ?")
        .get(sid) as { delivery_status: string | null; error_code: string | null } | null;
    } finally {
      db.close();
    }
  }

  test("customer wrote 25 h ago: the scheduled reminder goes as ContentSid with the text as variable 1; receipts land", async () => {
    const tenantId = await stack.createTenant({ name: "Wave Wines", phone: PHONE, channel: "whatsapp" });
    // The customer wrote once (answered inside the window, as Body) …
    fakes.twilio.noteInbound(PHONE);
    await stack.whatsapp(PHONE, "Please remind me tomorrow");
    await eventually(() => fakes.twilio.sent.some((m) => m.to === `whatsapp:${PHONE}` && m.body !== ""), "the reply");
    // … and that was 25 hours ago.
    const longAgo = new Date(Date.now() - DAY_MS - 3_600_000).toISOString();
    await stack.sql("UPDATE messages SET created_at = ? WHERE chat_id = ? AND direction = 'in'", longAgo, PHONE);
    fakes.twilio.noteInbound(PHONE, Date.parse(longAgo));

    const res = await stack.admin("POST", `/admin/tenants/${tenantId}/tasks`, {
      prompt: "Remind the customer to confirm the delivery",
      run_at: new Date(Date.now() + 2000).toISOString(),
    });
    expect(res.status).toBe(201);
    const sent = await eventually(
      () => fakes.twilio.sent.find((m) => m.to === `whatsapp:${PHONE}` && m.contentSid === TEMPLATE),
      "the template message",
      60_000,
    );
    expect(sent.body).toBe("");
    expect(JSON.parse(sent.contentVariables ?? "{}")).toEqual({
      "1": "Reminder: please confirm tomorrow's delivery.",
    });
    expect(sent.statusCallback).toBe(`${stack.publicUrl}/webhooks/whatsapp/status`);

    await eventually(() => deliveryOf(sent.sid) !== null, "the row marked sent with the MessageSid");
    expect((await fakes.twilio.sendStatus(sent.sid, "delivered")).status).toBe(204);
    expect((await fakes.twilio.sendStatus(sent.sid, "read")).status).toBe(204);
    expect((await fakes.twilio.sendStatus(sent.sid, "delivered")).status).toBe(204); // late, out of order
    expect(deliveryOf(sent.sid)).toEqual({ delivery_status: "read", error_code: null });
    expect((await fakes.twilio.sendStatus(sent.sid, "failed", { signature: "Zm9yZ2Vk" })).status).toBe(403);
    expect(deliveryOf(sent.sid)?.delivery_status).toBe("read");
  }, 90_000);
});

// Issue 15: with NO template, the reminder cannot go out: the task's own row says so (the admin tasks API shows
// last_error), not only the timeline — through the server's own wiring (parts.ts hands the outbox to the scheduler).
describe.skipIf(!HAS_REAL_CLI)("whatsapp window, no template (real server, real CLI)", () => {
  let fakes: Fakes;
  let stack: StackClient;
  const phone = "+18015550802";

  beforeAll(async () => {
    const anthropic = startFakeAnthropic();
    const telegram = startFakeTelegram();
    const twilio = startFakeTwilio({ enforceWindow: true });
    fakes = {
      anthropic,
      telegram,
      twilio,
      stop: async () => void (await Promise.all([anthropic.stop(), telegram.stop(), twilio.stop()])),
    };
    fakes.anthropic.setHandler(() => ({ type: "text", text: "Reminder: please confirm tomorrow's delivery." }));
    stack = new StackClient(
      await spawnServer({ env: stackEnv(fakes, await freePort(), { AGENT_TIMEOUT_MS: "60000" }) }),
      fakes,
    );
  });
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
  }, 30_000);

  test("customer wrote 25 h ago: the reminder fails and the task's last_error says outside_whatsapp_window", async () => {
    const tenantId = await stack.createTenant({ name: "Tide Tiles", phone, channel: "whatsapp" });
    fakes.twilio.noteInbound(phone);
    await stack.whatsapp(phone, "Please remind me tomorrow");
    await eventually(() => fakes.twilio.sent.some((m) => m.to === `whatsapp:${phone}` && m.body !== ""), "the reply");
    const longAgo = new Date(Date.now() - DAY_MS - 3_600_000).toISOString();
    await stack.sql("UPDATE messages SET created_at = ? WHERE chat_id = ? AND direction = 'in'", longAgo, phone);
    fakes.twilio.noteInbound(phone, Date.parse(longAgo));
    const sentBefore = fakes.twilio.sent.length;

    const res = await stack.admin("POST", `/admin/tenants/${tenantId}/tasks`, {
      prompt: "Remind the customer to confirm the delivery",
      run_at: new Date(Date.now() + 2000).toISOString(),
    });
    expect(res.status).toBe(201);
    const { id: taskId } = (await res.json()) as { id: string };
    const task = await eventually(
      async () => {
        const got = (await (await stack.admin("GET", `/admin/tenants/${tenantId}/tasks/${taskId}`)).json()) as {
          status: string;
          last_error: string | null;
        };
        return got.last_error !== null && got;
      },
      "the task's last_error",
      60_000,
    );
    expect(task).toEqual(
      expect.objectContaining({ status: "DONE", last_error: "reply not delivered: outside_whatsapp_window" }),
    );
    expect(fakes.twilio.sent.length).toBe(sentBefore); // nothing went out, neither as Body nor as a template
    const rows = await stack.rows({ tenantId });
    expect(rows.filter((r) => r.direction === "out" && r.kind === "task")).toEqual([
      expect.objectContaining({ status: "failed", error: "outside_whatsapp_window" }),
    ]);
  }, 90_000);
});
