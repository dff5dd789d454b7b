import type { Message, Update } from "grammy/types";
import type { InboundMessage, MediaRef } from "./types.ts";

/**
 * Turns a Telegram update into the pipeline's InboundMessage, or null for updates that carry no
 * message (edits, callbacks, …: we only subscribe to "message"). Text is the message text or the
 * media caption; media without a caption gets an empty text; other content (stickers, locations,
 * contacts) is described in brackets so the agent still sees that something arrived. A contact card
 * also comes as `contact` and the sender's user id as `senderUserId` (the linking flow checks both).
 */
export function telegramUpdateToInbound(update: Update, receivedAtMs: number): InboundMessage | null {
  const message = update.message;
  if (!message) return null;
  const media = mediaOf(message);
  const text = message.text ?? message.caption ?? (media.length > 0 ? "" : describeOther(message));
  const senderName = nameOf(message);
  const contact = message.contact;
  return {
    channel: "telegram",
    externalId: String(update.update_id),
    chatId: String(message.chat.id),
    ...(senderName ? { senderName } : {}),
    ...(message.from ? { senderUserId: String(message.from.id) } : {}),
    ...(contact ? { contact: { phoneNumber: contact.phone_number, ...(contact.user_id !== undefined ? { userId: String(contact.user_id) } : {}) } } : {}),
    text,
    media,
    receivedAtMs,
  };
}

function mediaOf(message: Message): MediaRef[] {
  const media: MediaRef[] = [];
  if (message.photo && message.photo.length > 0) {
    // Telegram lists the sizes of one photo; the largest is the one worth keeping.
    const largest = message.photo.reduce((a, b) => (b.width * b.height >= a.width * a.height ? b : a));
    media.push(withSize({ kind: "photo", fileId: largest.file_id, mimeType: "image/jpeg" }, largest.file_size));
  }
  if (message.document) {
    const d = message.document;
    media.push(withSize({ kind: "document", fileId: d.file_id, ...optional("mimeType", d.mime_type), ...optional("fileName", d.file_name) }, d.file_size));
  }
  if (message.voice) {
    const v = message.voice;
    media.push(withSize({ kind: "voice", fileId: v.file_id, mimeType: v.mime_type ?? "audio/ogg" }, v.file_size));
  }
  if (message.audio) {
    const a = message.audio;
    media.push(withSize({ kind: "audio", fileId: a.file_id, ...optional("mimeType", a.mime_type), ...optional("fileName", a.file_name) }, a.file_size));
  }
  if (message.video) {
    const v = message.video;
    media.push(withSize({ kind: "video", fileId: v.file_id, ...optional("mimeType", v.mime_type), ...optional("fileName", v.file_name) }, v.file_size));
  }
  if (message.video_note) {
    media.push(withSize({ kind: "video", fileId: message.video_note.file_id, mimeType: "video/mp4" }, message.video_note.file_size));
  }
  return media;
}

function describeOther(message: Message): string {
  if (message.sticker) return `[sticker${message.sticker.emoji ? ` ${message.sticker.emoji}` : ""}]`;
  if (message.location) return `[location ${message.location.latitude},${message.location.longitude}]`;
  if (message.contact) return `[contact ${[message.contact.first_name, message.contact.last_name].filter(Boolean).join(" ")} ${message.contact.phone_number}]`;
  if (message.poll) return `[poll: ${message.poll.question}]`;
  return "[a message type the bot cannot read]";
}

function nameOf(message: Message): string | undefined {
  const from = message.from;
  const name = from ? [from.first_name, from.last_name].filter(Boolean).join(" ") : undefined;
  if (name) return name;
  return "title" in message.chat ? message.chat.title : undefined;
}

function withSize(ref: MediaRef, size: number | undefined): MediaRef {
  return size === undefined ? ref : { ...ref, sizeBytes: size };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
