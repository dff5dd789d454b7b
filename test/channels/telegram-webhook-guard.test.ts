import { afterEach, expect, test } from "bun:test";
import type { Channels } from "../../src/channels/channels.ts";
import { createChannels } from "../../src/channels/index.ts";
import type { InboundMessage } from "../../src/channels/types.ts";
import { createApp } from "../../src/http/app.ts";
import type { FakeTelegram } from "../fakes/telegram.ts";
import { startFakeTelegram, textUpdate } from "../fakes/telegram.ts";
import type { TestContext } from "../helpers/context.ts";
import { createTestContext } from "../helpers/context.ts";

const SECRET = "s3cret-webhook_token";
let t: TestContext;
let fake: FakeTelegram;
let channels: Channels | undefined;

afterEach(async () => {
  for (const s of [...(channels?.services ?? [])].reverse()) await s.stop();
  await fake?.stop();
  await t?.cleanup();
});

test("a malformed update with the right secret is refused with 400 (never 500, so Telegram does not redeliver it forever)", async () => {
  fake = startFakeTelegram();
  t = await createTestContext({
    env: {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.url,
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      PUBLIC_URL: "https://staff.example.com",
    },
  });
  const received: InboundMessage[] = [];
  channels = createChannels(t.ctx, { onInbound: async (m) => void received.push(m), telegram: { webhookRetryMs: 20 } });
  const app = createApp(t.ctx, { modules: [channels.routes] });
  const post = (body: string, secret = SECRET) =>
    app.request("http://local/webhooks/telegram", {
      method: "POST",
      headers: { "content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret },
      body,
    });

  const malformed = [
    "{",
    "",
    "[]",
    '{"update_id":"x"}',
    '{"update_id":6,"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"text":5}}',
    '{"update_id":7,"message":{"message_id":1,"date":1,"chat":null,"text":"hi"}}',
    '{"update_id":8,"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"photo":[{"file_id":1}]}}',
  ];
  for (const body of malformed) {
    const res = await post(body);
    expect({ body, status: res.status }).toEqual({ body, status: 400 });
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_update");
  }
  // The secret is checked before the body: a wrong secret is 401 whatever the body.
  expect((await post("{", "wrong")).status).toBe(401);
  expect(received).toHaveLength(0);

  // A well-formed update still goes through, with fields ProxyStaff does not read passed along.
  const ok = await post(
    JSON.stringify({
      update_id: 9,
      ...textUpdate({ chatId: 5, text: "hello" }),
      edited_channel_post: undefined,
      extra: { a: 1 },
    }),
  );
  expect(ok.status).toBe(200);
  expect(received.map((m) => m.text)).toEqual(["hello"]);
});
