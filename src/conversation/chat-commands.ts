import type { ChannelName, InboundMessage, ReplyKeyboard, SharedContact } from "../channels/types.ts";
import type { AppContext } from "../context.ts";
import type { Tenant } from "../tenants/index.ts";
import {
  consumeLinkCode,
  dropLinkCode,
  findTenantByPhone,
  getTenant,
  isLinkCodeShaped,
  linkTelegramChat,
  normalizePhone,
} from "../tenants/index.ts";
import { resetAgentSession } from "./session-store.ts";
import { appendTimeline } from "./timeline.ts";

/**
 * A chat command the pipeline answers itself (never sent to the agent). `contact` is a contact card
 * shared in a Telegram chat that is not linked yet: the second step of linking by phone number.
 */
export type ChatCommand =
  | { name: "start"; argument: string }
  | { name: "reset" }
  | { name: "help" }
  | { name: "contact"; contact: SharedContact };

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
  /** Telegram: the reply keyboard sent with the reply (the contact button, or its removal). */
  keyboard?: ReplyKeyboard;
  /**
   * Side effect that must only happen once the command row is stored (not for a duplicate). It may
   * return a different outcome: a link code turned out valid, or a racing link won.
   */
  apply?: () => Promise<CommandChange | undefined>;
}

/** What `apply` may change about the outcome (the row is updated to match). */
export type CommandChange = Pick<CommandOutcome, "tenantId" | "status" | "error" | "reply" | "keyboard">;

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
      return {
        tenantId: tenant?.id ?? null,
        status: "done",
        reply: helpReply({ channel: msg.channel, businessName: tenant?.name ?? null }),
      };
    case "reset":
      if (!tenant)
        return { tenantId: null, status: "rejected", error: "unknown_chat", reply: unknownChatReply(msg.channel) };
      return {
        tenantId: tenant.id,
        status: "done",
        reply: RESET_REPLY,
        apply: async () => {
          // A run in flight keeps its lease and finishes its batch, but does not store its session id.
          const outcome = await resetAgentSession(ctx.db, tenant.id, ctx.clock.now());
          ctx.log.info("session reset by the customer", {
            tenantId: tenant.id,
            channel: msg.channel,
            isRunInFlight: outcome.leaseOwner !== null && !outcome.leaseFreed,
          });
          await appendTimeline(ctx, tenant, "↺ session reset by /reset (the next message starts a fresh conversation)");
        },
      };
    case "start":
      return decideStart(ctx, command.argument, msg, tenant);
    case "contact":
      return decideContact(ctx, command.contact, msg);
  }
}

/** Every refusal before a link looks the same to the chat (the row keeps the real reason). */
function refused(error: string, keyboard?: ReplyKeyboard): CommandOutcome {
  return { tenantId: null, status: "rejected", error, reply: LINK_REFUSED_REPLY, ...(keyboard ? { keyboard } : {}) };
}

/**
 * Telegram `/start`: with a link code (the deep link) it links at once; with a phone number it
 * only asks for the sender's own contact, with the same answer for every number, so a stranger
 * learns nothing about which numbers are customers; a linked chat is told so.
 */
async function decideStart(
  ctx: AppContext,
  argument: string,
  msg: InboundMessage,
  current: Tenant | null,
): Promise<CommandOutcome> {
  if (msg.channel !== "telegram" || current) {
    // WhatsApp links by the sender's number; the console is already bound to its tenant.
    return current
      ? { tenantId: current.id, status: "done", reply: alreadyLinkedHereReply(current.name) }
      : { tenantId: null, status: "rejected", error: "unknown_chat", reply: unknownChatReply(msg.channel) };
  }
  if (argument === "")
    return { tenantId: null, status: "rejected", error: "start_without_argument", reply: START_USAGE_REPLY };
  if (isLinkCodeShaped(argument)) {
    return {
      ...refused("link_code_refused"),
      apply: async () => {
        const tenantId = await consumeLinkCode(ctx.db, argument, ctx.clock.now());
        const target = tenantId ? await getTenant(ctx.db, tenantId) : null;
        if (!target) return;
        return linkChat(ctx, target, msg, "a one-time link code");
      },
    };
  }
  try {
    normalizePhone(argument);
  } catch (err) {
    return {
      tenantId: null,
      status: "rejected",
      error: "invalid_phone",
      reply: invalidPhoneReply(err instanceof Error ? err.message : "That is not a phone number."),
    };
  }
  return { tenantId: null, status: "done", reply: SHARE_CONTACT_REPLY, keyboard: "request_contact" };
}

/**
 * A contact card shared in an unlinked Telegram chat links it only when it is the sender's own
 * (Telegram fills `user_id` for a tapped "share my phone number" button; a forwarded card carries
 * someone else's id or none) and its number is a Telegram tenant's with no linked chat.
 */
async function decideContact(ctx: AppContext, contact: SharedContact, msg: InboundMessage): Promise<CommandOutcome> {
  if (contact.userId === undefined || msg.senderUserId === undefined || contact.userId !== msg.senderUserId)
    return refused("contact_not_own", "remove");
  let phone: string;
  try {
    phone = normalizeContactPhone(contact.phoneNumber);
  } catch {
    return refused("invalid_phone", "remove");
  }
  const target = await findTenantByPhone(ctx.db, phone);
  if (!target) return refused("no_account_for_phone", "remove");
  if (target.channel !== "telegram") return refused("not_telegram", "remove");
  if (target.status !== "ACTIVE") return refused("tenant_archived", "remove");
  if (target.telegram_chat_id !== null) return refused("number_already_linked", "remove");
  return {
    ...refused("link_pending", "remove"),
    apply: () => linkChat(ctx, target, msg, "the customer's shared contact"),
  };
}

/** Telegram sends a contact's number with or without the leading "+". */
function normalizeContactPhone(raw: string): string {
  const trimmed = raw.trim();
  return normalizePhone(/^\d/.test(trimmed) ? `+${trimmed}` : trimmed);
}

/** The link itself (one conditional UPDATE); any loss (a racing link, a chat in use) is the uniform refusal. */
async function linkChat(ctx: AppContext, target: Tenant, msg: InboundMessage, how: string): Promise<CommandChange> {
  const outcome = await linkTelegramChat(ctx.db, target.id, msg.chatId);
  ctx.log.info("telegram chat link", { tenantId: target.id, chatId: msg.chatId, how, outcome });
  if (outcome !== "linked")
    return { tenantId: null, status: "rejected", error: outcome, reply: LINK_REFUSED_REPLY, keyboard: "remove" };
  await dropLinkCode(ctx.db, target.id);
  await appendTimeline(ctx, target, `🔗 Telegram chat ${msg.chatId} linked by ${how}`);
  return { tenantId: target.id, status: "done", reply: welcomeReply(target.name), keyboard: "remove" };
}

/** What the bot says to customers outside of agent replies. Short, plain, honest. */

export const EXAMPLE_PHONE = "+18015551234";

/** The chat is not linked to any tenant. */
export function unknownChatReply(channel: ChannelName): string {
  if (channel === "telegram") {
    return `No account found for this chat. If your business is set up with us, open the link your operator gave you, or send /start followed by the phone number your operator registered, e.g. /start ${EXAMPLE_PHONE}`;
  }
  return "No account found for this chat. This number is not registered with us; please ask your operator to add it.";
}

/** After a successful link: the only reply of the linking flow that names the business. */
export function welcomeReply(businessName: string): string {
  return `Welcome, ${businessName}! This chat is now linked to your AI staff member. Just write here whenever you need something. Send /help to see what I can do.`;
}

export function alreadyLinkedHereReply(businessName: string): string {
  return `This chat is already linked to ${businessName}. Just write here whenever you need something.`;
}

export const START_USAGE_REPLY = `To link this chat, open the link your operator gave you, or send /start followed by your phone number, e.g. /start ${EXAMPLE_PHONE}`;

/**
 * The answer to `/start +PHONE`, whatever the number (unknown, WhatsApp, already linked or a real
 * Telegram tenant's), sent with the "share my phone number" button: only the shared contact decides.
 */
export const SHARE_CONTACT_REPLY =
  "To prove this number is yours, tap the button below to share your Telegram phone number. It must be the number your operator registered for your business.";

/**
 * Every refused link (a contact that is not the sender's own or not a linkable number, an unknown,
 * used or expired code): one text, so a stranger learns nothing about which numbers are customers.
 */
export const LINK_REFUSED_REPLY =
  "This chat could not be linked. Share your own Telegram phone number (the one your operator registered) with the button, or ask your operator for a new link.";

export const TOO_MANY_LINK_ATTEMPTS_REPLY = "Too many attempts to link this chat. Please try again later.";

export function invalidPhoneReply(problem: string): string {
  return `${problem} ${START_USAGE_REPLY}`;
}

export const RESET_REPLY =
  "Done: I've started a fresh conversation and forgotten our earlier chat. What can I do for you?";

/** Where a /help was asked: the channel, and the business its chat is linked to (null = not linked). */
export interface HelpContext {
  channel: ChannelName;
  businessName: string | null;
}

/**
 * The /help answer, for the chat it is asked in: an unlinked Telegram chat learns the link and /start +PHONE, a
 * linked chat gets /reset instead, an unknown WhatsApp number is told to ask its operator. What it
 * says about media is what the agent really gets: files and photos saved for it to open, voice
 * notes as audio files it cannot listen to (nothing transcribes them).
 */
export function helpReply({ channel, businessName }: HelpContext): string {
  if (businessName === null) {
    if (channel === "telegram") {
      return [
        "I'm an AI staff member for small businesses, but this chat is not linked to a business yet.",
        "",
        "Commands:",
        "To link this chat, open the link your operator gave you (it links at once), or:",
        `/start +PHONE — with the phone number your operator registered (e.g. /start ${EXAMPLE_PHONE}); then tap "Share my phone number" to prove it is yours`,
        "/help — this message",
      ].join("\n");
    }
    return "I'm an AI staff member for small businesses, but this number is not registered with us. Please ask your operator to add it.";
  }
  const lines = [
    `I'm the AI staff member of ${businessName}. Write to me as you would to a colleague: questions, reminders, customer emails, follow-ups, anything the business needs.`,
  ];
  if (channel !== "console") {
    lines.push(
      "You can send photos and files too: they are saved for me to open. Voice notes arrive as audio files that I cannot listen to (there is no transcription), so please type anything important.",
    );
  }
  lines.push("", "Commands:", "/reset — forget our conversation so far and start fresh", "/help — this message");
  if (channel === "console") lines.push("/quit — leave this terminal chat");
  return lines.join("\n");
}

export const SLOW_DOWN_REPLY =
  "You're sending messages faster than I can read them. Please slow down; I'll pick up again within a minute. Messages sent meanwhile were not read.";
export const PAUSED_REPLY =
  "Your assistant is paused at the moment, so this message was not read. Your operator can switch it back on.";
export const ARCHIVED_REPLY = "This account is closed, so this message was not read. Please contact your operator.";
export const RUN_FAILED_REPLY = "Sorry, I hit a problem and could not finish; I've told the team.";
