import { afterEach, describe, expect, test } from "bun:test";
import { channelsHealth, createChannels } from "../../src/channels/index.ts";
import type { InboundMessage } from "../../src/channels/types.ts";
import { createApp } from "../../src/http/app.ts";
import { HealthRegistry } from "../../src/http/health.ts";
import { telegramWebhookRequest, textUpdate } from "../fakes/telegram.ts";
import type { TestContext } from "../helpers/context.ts";
import { createTestContext } from "../helpers/context.ts";

let t: TestContext;
afterEach(async () => {
  await t?.cleanup();
});

describe("createChannels", () => {
  test("without settings every platform channel is off, says why, and logs it", async () => {
    t = await createTestContext();
    const channels = createChannels(t.ctx);
    expect(channels.byName.size).toBe(0);
    expect(channels.status).toEqual({
      telegram: "off: TELEGRAM_BOT_TOKEN is not set",
      whatsapp: "off: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_FROM are not set",
    });
    expect(
      t.logs.some((l) => l.level === "info" && l.msg === "channel telegram is off: TELEGRAM_BOT_TOKEN is not set"),
    ).toBe(true);
    expect(t.logs.filter((l) => l.level === "warn").map((l) => l.msg)).toEqual([
      expect.stringContaining("no chat channel is on: customers cannot reach their agents"),
    ]);
    const app = createApp(t.ctx, { modules: [channels.routes] });
    expect((await app.request("/webhooks/telegram", { method: "POST" })).status).toBe(404);
  });

  test("TELEGRAM_MODE=off and a partial Twilio setup are named", async () => {
    t = await createTestContext({ env: { TELEGRAM_BOT_TOKEN: "1:abc", TELEGRAM_MODE: "off", TWILIO_AUTH_TOKEN: "x" } });
    const { status } = createChannels(t.ctx);
    expect(status.telegram).toBe("off: TELEGRAM_MODE=off");
    expect(status.whatsapp).toBe("off: TWILIO_ACCOUNT_SID, TWILIO_WHATSAPP_FROM are not set");
    // Half a Twilio setup is a mistake worth a warning; TELEGRAM_MODE=off is a choice.
    expect(t.logs.find((l) => String(l.msg).startsWith("channel whatsapp is off"))?.level).toBe("warn");
    expect(t.logs.find((l) => String(l.msg).startsWith("channel telegram is off"))?.level).toBe("info");
  });

  test("the console channel writes replies to the injected writer", async () => {
    t = await createTestContext();
    const lines: string[] = [];
    const channels = createChannels(t.ctx, { console: (chatId, text) => void lines.push(`${chatId}: ${text}`) });
    const consoleChannel = channels.byName.get("console");
    expect(channels.status.console).toBe("on");
    expect(await consoleChannel?.send({ channel: "console", chatId: "operator", text: "hi there" })).toMatchObject({
      ok: true,
    });
    expect(lines).toEqual(["operator: hi there"]);
  });

  test("the inbound handler can be set after the routes are built; before that webhooks answer 500", async () => {
    t = await createTestContext({
      env: {
        TELEGRAM_BOT_TOKEN: "1:abc",
        TELEGRAM_MODE: "webhook",
        TELEGRAM_WEBHOOK_SECRET: "sekrit",
        TELEGRAM_API_ROOT: "http://127.0.0.1:9",
      },
    });
    const channels = createChannels(t.ctx);
    const app = createApp(t.ctx, { modules: [channels.routes] });
    const update = { update_id: 7, ...textUpdate({ chatId: 3, text: "hello" }) };
    expect((await app.request(telegramWebhookRequest("http://x/webhooks/telegram", update, "sekrit"))).status).toBe(
      500,
    );
    const got: InboundMessage[] = [];
    channels.setInboundHandler(async (m) => void got.push(m));
    expect((await app.request(telegramWebhookRequest("http://x/webhooks/telegram", update, "sekrit"))).status).toBe(
      200,
    );
    expect(got.map((m) => m.externalId)).toEqual(["7"]);
  });

  test("health shows the channel lines and the outbox backlog", async () => {
    t = await createTestContext();
    const health = new HealthRegistry();
    health.contribute(channelsHealth(createChannels(t.ctx), { pendingCount: async () => 3 }));
    const app = createApp(t.ctx, { health });
    const body = (await (await app.request("/health")).json()) as Record<string, unknown>;
    expect(body.outbox_pending).toBe(3);
    expect(body.channels).toMatchObject({ telegram: "off: TELEGRAM_BOT_TOKEN is not set" });
  });
});
