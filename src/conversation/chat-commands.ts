import type { AppContext } from "../context.ts";
import type { InboundMessage } from "../channels/types.ts";
import { findTenantByPhone, linkTelegramChat, normalizePhone } from "../tenants/index.ts";
import type { Tenant } from "../tenants/index.ts";
import {
  alreadyLinkedHereReply,
  CHAT_IN_USE_REPLY,
  helpReply,
  invalidPhoneReply,
  noAccountForPhoneReply,
  NUMBER_ALREADY_LINKED_REPLY,
  RESET_REPLY,
  START_USAGE_REPLY,
  unknownChatReply,
  welcomeReply,
} from "./replies.ts";
import { resetAgentSession } from "./session-store.ts";
import { appendTimeline } from "./timeline.ts";

/** A chat command the pipeline answers itself (never sent to the agent). */
export type ChatCommand = { name: "start"; argument: string } | { name: "reset" } | { name: "help" };

/** Parses "/start +1801…", "/reset", "/help" (also "/start@MyBot …" as Telegram sends in groups); null otherwise. */
export function parseChatCommand(text: string): ChatCommand | null {
  const match = /^\/(start|reset|help)(?:@\w+)?(?:\s+([\s\S]*))?$/i.exec(text.trim());
  if (!match) return null;
  const name = match[1]!.toLowerCase();
  if (name === "start") return { name: "start", argument: (match[2] ?? "").trim() };
  return name === "reset" ? { name: "reset" } : { name: "help" };
}

/** What handling a command decided: the row's tenant and outcome, the reply, and follow-up work. */
export interface CommandOutcome {
  tenantId: string | null;
  /** `done` when the command did what was asked, `rejected` (with error) when it could not. */
  status: "done" | "rejected";
  error?: string;
  reply: string;
  /**
   * Side effect that must only happen once the command row is stored (not for a duplicate). It may
   * return a different outcome when the world changed meanwhile (a racing link won).
   */
  apply?: () => Promise<Pick<CommandOutcome, "status" | "error" | "reply"> | void>;
}

/**
 * Decides what a command does. The side effect (`apply`) runs after the row is stored, so a
 * redelivered update never links or resets twice; linking itself is one conditional UPDATE.
 */
export async function decideCommand(
  ctx: AppContext,
  command: ChatCommand,
  msg: InboundMessage,
  tenant: Tenant | null,
): Promise<CommandOutcome> {
  switch (command.name) {
    case "help":
      return { tenantId: tenant?.id ?? null, status: "done", reply: helpReply({ channel: msg.channel, businessName: tenant?.name ?? null }) };
    case "reset":
      if (!tenant) return { tenantId: null, status: "rejected", error: "unknown_chat", reply: unknownChatReply(msg.channel) };
      return {
        tenantId: tenant.id,
        status: "done",
        reply: RESET_REPLY,
        apply: async () => {
          // A run in flight keeps its lease and finishes its batch, but does not store its session id.
          const outcome = await resetAgentSession(ctx.db, tenant.id, ctx.clock.now());
          ctx.log.info("session reset by the customer", { tenantId: tenant.id, channel: msg.channel, isRunInFlight: outcome.leaseOwner !== null && !outcome.leaseFreed });
          await appendTimeline(ctx, tenant, "↺ session reset by /reset (the next message starts a fresh conversation)");
        },
      };
    case "start":
      return decideStart(ctx, command.argument, msg, tenant);
  }
}

async function decideStart(ctx: AppContext, argument: string, msg: InboundMessage, current: Tenant | null): Promise<CommandOutcome> {
  if (msg.channel !== "telegram") {
    // WhatsApp links by the sender's number; the console is already bound to its tenant.
    return current
      ? { tenantId: current.id, status: "done", reply: alreadyLinkedHereReply(current.name) }
      : { tenantId: null, status: "rejected", error: "unknown_chat", reply: unknownChatReply(msg.channel) };
  }
  if (argument === "") {
    if (current) return { tenantId: current.id, status: "done", reply: alreadyLinkedHereReply(current.name) };
    return { tenantId: null, status: "rejected", error: "start_without_phone", reply: START_USAGE_REPLY };
  }
  let phone: string;
  try {
    phone = normalizePhone(argument);
  } catch (err) {
    return { tenantId: null, status: "rejected", error: "invalid_phone", reply: invalidPhoneReply(err instanceof Error ? err.message : "That is not a phone number.") };
  }
  const target = await findTenantByPhone(ctx.db, phone);
  if (!target || target.status !== "ACTIVE") {
    return { tenantId: current?.id ?? null, status: "rejected", error: "no_account_for_phone", reply: noAccountForPhoneReply(phone) };
  }
  if (target.telegram_chat_id === msg.chatId) {
    return { tenantId: target.id, status: "done", reply: alreadyLinkedHereReply(target.name) };
  }
  if (target.telegram_chat_id !== null) {
    return { tenantId: target.id, status: "rejected", error: "number_already_linked", reply: NUMBER_ALREADY_LINKED_REPLY };
  }
  if (current) {
    return { tenantId: current.id, status: "rejected", error: "chat_in_use", reply: CHAT_IN_USE_REPLY };
  }
  return {
    tenantId: target.id,
    status: "done",
    reply: welcomeReply(target.name),
    apply: async () => {
      const outcome = await linkTelegramChat(ctx.db, target.id, msg.chatId);
      ctx.log.info("telegram chat link", { tenantId: target.id, chatId: msg.chatId, outcome });
      if (outcome === "linked") {
        await appendTimeline(ctx, target, `🔗 Telegram chat ${msg.chatId} linked by /start ${phone}`);
        return;
      }
      return outcome === "chat_in_use"
        ? { status: "rejected", error: "chat_in_use", reply: CHAT_IN_USE_REPLY }
        : { status: "rejected", error: "number_already_linked", reply: NUMBER_ALREADY_LINKED_REPLY };
    },
  };
}
