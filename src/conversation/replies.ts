/** What the bot says to customers outside of agent replies. Short, plain, honest. */

import type { ChannelName } from "../channels/types.ts";

export const EXAMPLE_PHONE = "+18015551234";

/** The chat is not linked to any tenant. */
export function unknownChatReply(channel: ChannelName): string {
  if (channel === "telegram") {
    return `No account found for this chat. If your business is set up with us, link this chat by sending /start followed by the phone number your operator registered, e.g. /start ${EXAMPLE_PHONE}`;
  }
  return "No account found for this chat. This number is not registered with us; please ask your operator to add it.";
}

export function welcomeReply(businessName: string): string {
  return `Welcome, ${businessName}! This chat is now linked to your AI staff member. Just write here whenever you need something. Send /help to see what I can do.`;
}

export function alreadyLinkedHereReply(businessName: string): string {
  return `This chat is already linked to ${businessName}. Just write here whenever you need something.`;
}

export const NUMBER_ALREADY_LINKED_REPLY = "This number is already linked — ask your operator to move it to this chat.";
export const CHAT_IN_USE_REPLY = "This chat is already linked to another account — ask your operator.";
export const START_USAGE_REPLY = `To link this chat, send /start followed by your phone number, e.g. /start ${EXAMPLE_PHONE}`;

export function noAccountForPhoneReply(phone: string): string {
  return `No account found for ${phone}. Check the number (international format, e.g. ${EXAMPLE_PHONE}) or ask your operator.`;
}

export function invalidPhoneReply(problem: string): string {
  return `${problem} ${START_USAGE_REPLY}`;
}

export const RESET_REPLY = "Done: I've started a fresh conversation and forgotten our earlier chat. What can I do for you?";

export function helpReply(businessName: string | null): string {
  const who = businessName ? `I'm the AI staff member of ${businessName}.` : "I'm an AI staff member for small businesses.";
  return [
    `${who} Write to me as you would to a colleague: questions, reminders, customer emails, follow-ups, anything the business needs. You can send photos, documents and voice notes too.`,
    "",
    "Commands:",
    "/start +PHONE — link this chat to your business (Telegram)",
    "/reset — forget our conversation so far and start fresh",
    "/help — this message",
  ].join("\n");
}

export const SLOW_DOWN_REPLY = "You're sending messages faster than I can read them. Please slow down; I'll pick up again within a minute. Messages sent meanwhile were not read.";
export const PAUSED_REPLY = "Your assistant is paused at the moment, so this message was not read. Your operator can switch it back on.";
export const ARCHIVED_REPLY = "This account is closed, so this message was not read. Please contact your operator.";
export const RUN_FAILED_REPLY = "Sorry, I hit a problem and could not finish; I've told the team.";
