// The server as a real process: secret-free output, graceful shutdown on SIGTERM/SIGINT.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { noBwrapEnv, SERVE_FIXTURE, spawnServer, TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY } from "../helpers/index.ts";

// These tests start real processes; give them room even when run alone with plain `bun test`.
setDefaultTimeout(30_000);

const SECRETS = {
  ADMIN_API_KEY: TEST_ADMIN_KEY,
  CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
  CREDENTIALS_KEY_PREVIOUS: Buffer.alloc(32, 0xfb).toString("base64"), // has + and / in it
  TELEGRAM_BOT_TOKEN: "987654321:AAH-secret_bot_token_for_logs",
  TELEGRAM_WEBHOOK_SECRET: "webhook-secret-for-logs-42",
  TWILIO_AUTH_TOKEN: "twilio-auth-token-secret-0042",
  DATABASE_AUTH_TOKEN: "database-auth-token-secret-7",
  GOOGLE_CLIENT_SECRET: "google-client-secret-value-9",
};

describe("secret-free output", () => {
  test("secrets in env, URLs, headers and bodies never reach stdout or stderr", async () => {
    const s = await spawnServer({
      command: [process.execPath, SERVE_FIXTURE],
      env: {
        ...SECRETS,
        LOG_LEVEL: "debug",
        // Whatever the channel modules do at start, they talk to nothing real.
        TELEGRAM_MODE: "off",
        TELEGRAM_API_ROOT: "http://127.0.0.1:9",
        TWILIO_API_BASE: "http://127.0.0.1:9",
        SENDGRID_API_BASE: "http://127.0.0.1:9",
      },
    });
    try {
      const values = Object.values(SECRETS);
      for (const secret of values) {
        const encoded = encodeURIComponent(secret);
        await fetch(`${s.url}/health?token=${encoded}`);
        await fetch(`${s.url}/bot${secret}/getMe`);
        await fetch(`${s.url}/nothing/${encoded}`, { method: "POST", body: JSON.stringify({ secret }) });
        await fetch(`${s.url}/admin/tenants`, { headers: { authorization: `Bearer ${secret}x` } });
        await fetch(`${s.url}/admin/${encoded}`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
        await fetch(`${s.url}/test/json`, { method: "POST", body: `{"broken": "${secret}"` });
        await fetch(`${s.url}/webhooks/telegram`, {
          method: "POST",
          headers: { "x-telegram-bot-api-secret-token": secret, "content-type": "application/json" },
          body: JSON.stringify({ update_id: 1, message: { text: secret } }),
        });
        await fetch(`${s.url}/webhooks/whatsapp`, {
          method: "POST",
          headers: { "x-twilio-signature": secret, "content-type": "application/x-www-form-urlencoded" },
          body: `Body=${encoded}&From=whatsapp%3A%2B15550001111`,
        });
      }
      expect(await s.stop()).toBe(0);
      const output = s.stdout() + s.stderr();
      expect(s.logs().filter((l) => l.msg === "request").length).toBeGreaterThanOrEqual(values.length * 8);
      for (const secret of values) {
        expect(output).not.toContain(secret);
        expect(output).not.toContain(encodeURIComponent(secret));
      }
    } finally {
      await s.cleanup();
    }
  });
});

describe("graceful shutdown", () => {
  test("SIGTERM: in-flight request completes, new connections are refused, exit 0, 'stopped' logged", async () => {
    const s = await spawnServer({ command: [process.execPath, SERVE_FIXTURE] });
    try {
      const slow = fetch(`${s.url}/test/slow?ms=1500`);
      await s.waitForLog((l) => l.msg === "test: slow request started");
      const exited = s.stop("SIGTERM");
      await s.waitForLog((l) => l.msg === "shutting down");
      const refused = await fetch(`${s.url}/health`).then(
        () => false,
        () => true,
      );
      expect(refused).toBe(true);
      const res = await slow;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ slept_ms: 1500 });
      expect(await exited).toBe(0);
      const msgs = s.logs().map((l) => l.msg);
      expect(msgs).toContain("stopped");
      expect(msgs.indexOf("stopped")).toBeGreaterThan(msgs.lastIndexOf("request"));
      expect(s.logs().find((l) => l.msg === "signal received")?.signal).toBe("SIGTERM");
      expect(s.stderr()).toBe("");
    } finally {
      await s.cleanup();
    }
  });

  test("SIGINT (Ctrl-C) on the real `serve` command: exit 0, database closed cleanly", async () => {
    // As on a fresh machine without bubblewrap: the sandbox-off notice is a loud warning, never an error.
    const s = await spawnServer({ env: noBwrapEnv() });
    try {
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      expect(await s.stop("SIGINT")).toBe(0);
      expect(s.logs().map((l) => l.msg)).toContain("stopped");
      expect(s.logs().filter((l) => l.level === "error")).toEqual([]);
      expect(s.logs().some((l) => l.level === "warn" && l.msg === "AGENT SANDBOX OFF")).toBe(true);
    } finally {
      await s.cleanup();
    }
  });
});
