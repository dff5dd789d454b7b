import type { MessageRow } from "../../db/index.ts";

/** Body on one line, cut to `max` characters. */
export function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * "(from Telegram chat 999)" when a tenant's Telegram row is not from the tenant's linked chat:
 * e.g. rows stored under the tenant before an operator relinked it to another chat (older builds
 * also stored a stranger's refused `/start +PHONE` there), which must not read as the owner's own
 * messages. "" otherwise.
 */
export function otherChatNote(m: Pick<MessageRow, "tenant_id" | "channel" | "chat_id">, linkedChatId: string | null | undefined): string {
  if (!m.tenant_id || m.channel !== "telegram" || m.chat_id === linkedChatId) return "";
  return `(from Telegram chat ${m.chat_id}, not the linked chat)  `;
}

/** "2026-11-26T08:00:00.000Z  in   telegram  done     [who]  [other chat]  body" */
export function formatMessage(m: MessageRow, who?: string, note = ""): string {
  const error = m.error ? `  (error: ${oneLine(m.error, 80)})` : "";
  const media = m.media ? " [media]" : "";
  const from = who ? `${who}  ` : "";
  return `${m.created_at}  ${m.direction.padEnd(3)}  ${m.channel.padEnd(8)}  ${m.status.padEnd(10)}  ${from}${note}${oneLine(m.body)}${media}${error}`;
}
