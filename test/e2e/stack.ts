// A real server process wired to loopback fakes of Telegram, Twilio and the Anthropic API, with the REAL
// Claude Code CLI as the agent. Shared by the conversation e2e tests.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { FakeAnthropic, RecordedRequest } from "../fakes/anthropic.ts";
import { startFakeAnthropic } from "../fakes/anthropic.ts";
import type { FakeTelegram, FakeUpdateInput } from "../fakes/telegram.ts";
import {
  contactUpdate,
  FAKE_BOT_TOKEN,
  postTelegramWebhook,
  startFakeTelegram,
  textUpdate,
} from "../fakes/telegram.ts";
import type { FakeTwilio } from "../fakes/twilio.ts";
import {
  FAKE_TWILIO_SID,
  FAKE_TWILIO_TOKEN,
  postWhatsAppWebhook,
  startFakeTwilio,
  whatsappInboundParams,
} from "../fakes/twilio.ts";
import type { ServerProcess } from "../helpers/index.ts";
import { queryDatabase, REPO_ROOT, spawnServer } from "../helpers/index.ts";

export const REAL_CLI = join(REPO_ROOT, "node_modules", ".bin", "claude");
export const HAS_REAL_CLI = existsSync(REAL_CLI);
export const WEBHOOK_SECRET = "e2e-telegram-webhook-secret";
export const WHATSAPP_FROM = "whatsapp:+14155238886";

export interface Fakes {
  anthropic: FakeAnthropic;
  telegram: FakeTelegram;
  twilio: FakeTwilio;
  stop(): Promise<void>;
}

export function startFakes(): Fakes {
  const anthropic = startFakeAnthropic();
  const telegram = startFakeTelegram();
  const twilio = startFakeTwilio();
  return {
    anthropic,
    telegram,
    twilio,
    async stop() {
      await Promise.all([anthropic.stop(), telegram.stop(), twilio.stop()]);
    },
  };
}

/** The server's environment for these fakes: webhooks on PUBLIC_URL, the real CLI, no sandbox. */
export function stackEnv(fakes: Fakes, port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    TELEGRAM_BOT_TOKEN: FAKE_BOT_TOKEN,
    TELEGRAM_API_ROOT: fakes.telegram.url,
    TELEGRAM_MODE: "webhook",
    TELEGRAM_WEBHOOK_SECRET: WEBHOOK_SECRET,
    TWILIO_ACCOUNT_SID: FAKE_TWILIO_SID,
    TWILIO_AUTH_TOKEN: FAKE_TWILIO_TOKEN,
    TWILIO_WHATSAPP_FROM: WHATSAPP_FROM,
    TWILIO_API_BASE: fakes.twilio.url,
    ANTHROPIC_BASE_URL: fakes.anthropic.url,
    ANTHROPIC_API_KEY: "sk-ant-fake-platform-key",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ENABLE_TOOL_SEARCH: "false",
    DISABLE_AUTOUPDATER: "1",
    AGENT_SANDBOX: "none",
    AGENT_TIMEOUT_MS: "8000",
    ...extra,
  };
}

/** Admin calls and webhook posts against one running server. */
export class StackClient {
  private updateId = Math.floor(Math.random() * 1_000_000) * 100;
  constructor(
    readonly server: ServerProcess,
    readonly fakes: Fakes,
  ) {}

  get publicUrl(): string {
    return this.server.env.PUBLIC_URL ?? this.server.url;
  }

  async createTenant(fields: {
    name: string;
    phone: string;
    channel?: "telegram" | "whatsapp";
    timezone?: string;
  }): Promise<string> {
    const res = await this.server.adminFetch("/admin/tenants", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ channel: "telegram", timezone: "America/Denver", ...fields }),
    });
    if (res.status !== 201) throw new Error(`create tenant: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  }

  async admin(method: string, path: string, body?: unknown): Promise<Response> {
    return this.server.adminFetch(path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  nextUpdateId(): number {
    return ++this.updateId;
  }

  /** Posts a Telegram text update to the webhook; returns the update (to redeliver it). */
  async telegramText(chatId: number, text: string): Promise<FakeUpdateInput & { update_id: number }> {
    const update = { ...textUpdate({ chatId, text }), update_id: this.nextUpdateId() };
    await this.postTelegram(update);
    return update;
  }

  /** Posts a shared contact card (userId: whose card; the sender is the chat's user). */
  async telegramContact(chatId: number, phoneNumber: string, userId: number | undefined = chatId): Promise<void> {
    await this.postTelegram({
      ...contactUpdate({ chatId, phoneNumber, ...(userId !== undefined ? { userId } : {}) }),
      update_id: this.nextUpdateId(),
    });
  }

  /** Links a chat as a customer does: `/start +PHONE`, then the "share my phone number" button (their own contact). */
  async telegramLink(chatId: number, phone: string): Promise<void> {
    await this.telegramText(chatId, `/start ${phone}`);
    await this.telegramContact(chatId, phone.replace(/[^\d+]/g, ""));
  }

  async postTelegram(update: FakeUpdateInput & { update_id: number }, secret = WEBHOOK_SECRET): Promise<Response> {
    const res = await postTelegramWebhook(this.server.url, update, secret);
    if (secret === WEBHOOK_SECRET && res.status !== 200)
      throw new Error(`telegram webhook: ${res.status} ${await res.text()}`);
    return res;
  }

  async whatsapp(
    from: string,
    body: string,
    options: { signature?: string | null; messageSid?: string } = {},
  ): Promise<Response> {
    const params = whatsappInboundParams({ from, body, messageSid: options.messageSid });
    return postWhatsAppWebhook(this.server.url, this.publicUrl, params, { signature: options.signature });
  }

  /** Replies the fake Telegram received for this chat (texts). */
  telegramReplies(chatId: number): string[] {
    return this.fakes.telegram.sent.filter((m) => String(m.chat_id) === String(chatId)).map((m) => m.text);
  }

  /** Rows of the messages table, read straight from the database (as an operator would: the file, or sqld). */
  rows(tenantIdOrChat: { tenantId?: string; chatId?: string }): Promise<MessageRowView[]> {
    const where = tenantIdOrChat.tenantId ? "tenant_id = ?" : "chat_id = ?";
    return queryDatabase<MessageRowView>(
      this.server.databaseUrl,
      `SELECT id, direction, channel, kind, status, error, body, media, reply_to FROM messages WHERE ${where} ORDER BY created_at, rowid`,
      tenantIdOrChat.tenantId ?? tenantIdOrChat.chatId ?? "",
    );
  }

  /** Runs one SQL statement against the server's database (the runbook's way). */
  async sql(statement: string, ...params: string[]): Promise<void> {
    await queryDatabase(this.server.databaseUrl, statement, ...params);
  }

  async health(): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.server.url}/health`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
}

export interface MessageRowView {
  id: string;
  direction: "in" | "out";
  channel: string;
  kind: string;
  status: string;
  error: string | null;
  body: string;
  media: string | null;
  reply_to: string | null;
}

/** Main-request prompts that contain the tag (which tenant / scenario a run belongs to). */
export function runsTagged(
  anthropic: FakeAnthropic,
  tag: string,
  prompt: (r: RecordedRequest) => string,
): RecordedRequest[] {
  return anthropic.messageRequests().filter((r) => prompt(r).includes(tag));
}

export type { ServerProcess };
export { spawnServer };
