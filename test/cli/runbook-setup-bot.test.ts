import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { FakeTelegram } from "../fakes/telegram.ts";
import { startFakeTelegram } from "../fakes/telegram.ts";
import type { RunbookEnv } from "./runbook-support.ts";
import { runbookEnv } from "./runbook-support.ts";

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
    const res = await rb.run("setup-customer", [
      "--name",
      "Bot Named",
      "--phone",
      "+18015552001",
      "--channel",
      "telegram",
      "--skip-health-checks",
    ]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /To link: send the customer this link: https:\/\/t\.me\/fake_proxystaff_bot\?start=[A-Za-z0-9_-]{32}\n/,
    );
    expect(res.stdout).toContain(
      'Or ask the customer to send "/start +18015552001" to @fake_proxystaff_bot (https://t.me/fake_proxystaff_bot) and tap "Share my phone number"',
    );
    expect(res.stdout + res.stderr).not.toContain(telegram.token);
    expect(telegram.calls.map((c) => c.method)).toContain("getMe");
  });

  test("Telegram unreachable: the generic wording", async () => {
    const res = await rb.run(
      "setup-customer",
      ["--name", "Offline", "--phone", "+18015552002", "--channel", "telegram", "--skip-health-checks"],
      {
        env: { TELEGRAM_API_ROOT: "http://127.0.0.1:1" },
      },
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/To link: send the customer "\/start [A-Za-z0-9_-]{32}" to your Telegram bot\n/);
    expect(res.stdout).toContain('send "/start +18015552002" to your Telegram bot and tap');
  });

  test("link-code makes a new one-time link (the old one stops working); read-tenant shows only its expiry", async () => {
    const made = await rb.run("setup-customer", [
      "--name",
      "Relinker",
      "--phone",
      "+18015552003",
      "--channel",
      "telegram",
      "--skip-health-checks",
    ]);
    const id = /Tenant id: (\S+)/.exec(made.stdout)![1]!;
    const res = await rb.run("link-code", [id, "--json"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const json = JSON.parse(res.stdout) as { code: string; url: string; expires_at: string };
    expect(json.url).toBe(`https://t.me/fake_proxystaff_bot?start=${json.code}`);
    const read = await rb.run("read-tenant", [id]);
    expect(read.stdout).toContain(`Link code:   one outstanding, valid until ${json.expires_at}`);
    expect(read.stdout).not.toContain(json.code);
    const whatsapp = await rb.run("setup-customer", [
      "--name",
      "WA",
      "--phone",
      "+18015552004",
      "--channel",
      "whatsapp",
      "--skip-health-checks",
    ]);
    const waId = /Tenant id: (\S+)/.exec(whatsapp.stdout)![1]!;
    const refused = await rb.run("link-code", [waId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("not_telegram");
  });
});
