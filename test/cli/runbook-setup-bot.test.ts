import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { telegramBotUsername } from "../../src/tenants/commands/bot-username.ts";
import { startFakeTelegram } from "../fakes/telegram.ts";
import type { FakeTelegram } from "../fakes/telegram.ts";
import { runbookEnv } from "./runbook-support.ts";
import type { RunbookEnv } from "./runbook-support.ts";

let telegram: FakeTelegram;
let rb: RunbookEnv;
beforeAll(() => {
  telegram = startFakeTelegram();
  rb = runbookEnv({ TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.url });
});
afterAll(async () => {
  rb.cleanup();
  await telegram.stop();
});

describe("setup-customer names the Telegram bot to write to", () => {
  test("with TELEGRAM_BOT_TOKEN: getMe's @username, and the token is never printed", async () => {
    const res = await rb.run("setup-customer", ["--name", "Bot Named", "--phone", "+18015552001", "--channel", "telegram", "--skip-health-checks"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('To link: ask the customer to send "/start +18015552001" to @fake_proxystaff_bot (https://t.me/fake_proxystaff_bot).');
    expect(res.stdout + res.stderr).not.toContain(telegram.token);
    expect(telegram.calls.map((c) => c.method)).toContain("getMe");
  });

  test("Telegram unreachable: the generic wording", async () => {
    const res = await rb.run("setup-customer", ["--name", "Offline", "--phone", "+18015552002", "--channel", "telegram", "--skip-health-checks"], {
      env: { TELEGRAM_API_ROOT: "http://127.0.0.1:1" },
    });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('send "/start +18015552002" to your Telegram bot.');
  });
});

describe("telegramBotUsername", () => {
  const config = () => ({ TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.url });

  test("no token: null without a request", async () => {
    const before = telegram.calls.length;
    expect(await telegramBotUsername({ TELEGRAM_BOT_TOKEN: undefined, TELEGRAM_API_ROOT: telegram.url })).toBeNull();
    expect(telegram.calls.length).toBe(before);
  });

  test("an error answer or no answer within the time limit: null", async () => {
    telegram.failNext("getMe", "403");
    expect(await telegramBotUsername(config())).toBeNull();
    telegram.failNext("getMe", "hang");
    expect(await telegramBotUsername(config(), { timeoutMs: 100 })).toBeNull();
    expect(await telegramBotUsername(config())).toBe("fake_proxystaff_bot");
  });
});
