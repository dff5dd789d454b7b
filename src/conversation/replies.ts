/** What the bot says to customers outside of agent replies. Short, plain, honest. */

import type { ChannelName } from "../channels/types.ts";

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

export const RESET_REPLY = "Done: I've started a fresh conversation and forgotten our earlier chat. What can I do for you?";

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

export const SLOW_DOWN_REPLY = "You're sending messages faster than I can read them. Please slow down; I'll pick up again within a minute. Messages sent meanwhile were not read.";
export const PAUSED_REPLY = "Your assistant is paused at the moment, so this message was not read. Your operator can switch it back on.";
export const ARCHIVED_REPLY = "This account is closed, so this message was not read. Please contact your operator.";
export const RUN_FAILED_REPLY = "Sorry, I hit a problem and could not finish; I've told the team.";
