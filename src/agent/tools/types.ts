import type { ChannelName } from "../../channels/types.ts";
import type { Tenant } from "../../tenants/index.ts";

/** Where a tenant's customer is reached. */
export interface TenantChat {
  channel: ChannelName;
  chatId: string;
}

/** The part of the outbox the tools use (structural, so the real outbox fits as is). */
export interface ToolOutbox {
  enqueue(message: { tenantId: string; channel: ChannelName; chatId: string; text: string; kind: "chat" | "system" }): Promise<unknown>;
}

/** What the tools are handed by the server wiring. */
export interface AgentToolsDeps {
  /** Sends `send_message` texts to the customer (retries and splitting are the outbox's job). */
  outbox: ToolOutbox;
  /** Woken after `schedule_task` so a task due soon is not missed until the next sanity wake. */
  scheduler?: { wake(): void };
  /** The tenant's linked chat, or null when none is linked yet. Default: `linkedChatOf`. */
  tenantChat?: (tenant: Tenant) => TenantChat | null;
}

/** Options of createAgentTools (all optional). */
export interface AgentToolsOptions {
  /** How long a token outlives the run's time limit if never revoked. Default 60 000 ms. */
  tokenMarginMs?: number;
  /** fetch used for SendGrid (tests may pass their own). Default: global fetch. */
  fetch?: typeof fetch;
  /** Time limit of one SendGrid request. Default 15 000 ms. */
  emailTimeoutMs?: number;
}

/** Where a tenant is reached: its linked Telegram chat, or its WhatsApp number (null: Telegram not linked yet). */
export function linkedChatOf(tenant: Tenant): TenantChat | null {
  if (tenant.channel === "whatsapp") return { channel: "whatsapp", chatId: tenant.phone_number };
  return tenant.telegram_chat_id ? { channel: "telegram", chatId: tenant.telegram_chat_id } : null;
}
