/** Where a message travels: the two chat platforms plus the operator's terminal chat. */
export type ChannelName = "telegram" | "whatsapp" | "console";

/** A file the customer sent, not yet downloaded. */
export interface MediaRef {
  kind: "photo" | "document" | "voice" | "audio" | "video" | "other";
  /** Telegram file_id (fetched with getFile). */
  fileId?: string;
  /** Twilio MediaUrlN (fetched with the account's credentials). */
  url?: string;
  mimeType?: string;
  fileName?: string;
  sizeBytes?: number;
}

/** A contact card shared in a chat: whose (`userId`, absent for a contact not on Telegram) and which number (as sent). */
export interface SharedContact {
  phoneNumber: string;
  userId?: string;
}

/** One update from a platform, in the one shape the pipeline reads. */
export interface InboundMessage {
  channel: ChannelName;
  /** The dedupe key: Telegram update_id, Twilio MessageSid. */
  externalId: string;
  /** Where replies go: Telegram chat id, WhatsApp sender ("+18015551234"). */
  chatId: string;
  /** WhatsApp: the sender's E.164 number (auto-link). */
  senderPhone?: string;
  senderName?: string;
  /** Telegram: the sender's user id (`from.id`), to check that a shared contact is their own. */
  senderUserId?: string;
  /** Telegram: a shared contact card (the linking flow's "share my phone number" button sends one). */
  contact?: SharedContact;
  text: string;
  media: MediaRef[];
  receivedAtMs: number;
}

/** One reply chunk to send (already split to the channel's length limit). */
export interface OutboundMessage {
  channel: ChannelName;
  chatId: string;
  text: string;
  /** Telegram only: show the "share my phone number" button, or remove it (other channels ignore it). */
  keyboard?: ReplyKeyboard;
  /** WhatsApp only: send as this approved template (outside the 24-hour window) instead of free text; `text` is ignored. */
  template?: WhatsAppTemplateSend;
  /** A file to send; `text` is then its caption (may be empty). */
  file?: OutboundFile;
}

/** An approved WhatsApp template with one variable: Twilio's ContentSid and the value of variable "1". */
export interface WhatsAppTemplateSend {
  contentSid: string;
  variable: string;
}

/** A file on its way out, already copied to the server's own spool (the agent cannot change it any more). */
export interface OutboundFile {
  /** Absolute path of the server-owned copy. */
  path: string;
  fileName: string;
  mimeType: string;
  sizeBytes: number;
  /** photo: sent as a picture (Telegram sendPhoto); document: anything else. */
  kind: "photo" | "document";
  /** WhatsApp: the short-lived public URL Twilio fetches the bytes from (MediaUrl). */
  url?: string;
}

/** What a Twilio status callback reports about an outbound message. */
export type DeliveryStatus = "delivered" | "read" | "undelivered" | "failed";

/** One (signature-checked) status callback: which sent message, to which chat, and what happened. */
export interface DeliveryStatusUpdate {
  channel: ChannelName;
  /** The platform's id of the sent message (Twilio MessageSid). */
  externalId: string;
  chatId: string;
  status: DeliveryStatus;
  errorCode: string | null;
}

/** Records a delivery status; resolves once stored (or found nothing to update). */
export type DeliveryStatusHandler = (update: DeliveryStatusUpdate) => Promise<void>;

/** The reply keyboards the bot uses: the linking flow's contact button, and taking it away. */
export type ReplyKeyboard = "request_contact" | "remove";

/** Sent, or why not: "they said no" (retryable false) is not "we couldn't reach them". */
export type SendResult =
  | { ok: true; externalId: string }
  | { ok: false; retryable: boolean; retryAfterMs?: number; error: string; errorCode?: string };

/** A media file saved into a tenant's inbox/. */
export interface SavedMedia {
  kind: MediaRef["kind"];
  /** Path relative to the tenant's workspace (e.g. "inbox/20261126-083000-photo-3fa9c2.jpg"). */
  path: string;
  mimeType?: string;
  sizeBytes: number;
}

/**
 * Stores a downloaded file under `name` (a safe generated file name) and returns its path relative
 * to the tenant's workspace. The conversation engine owns where and how (the workspace is hostile ground).
 */
export type MediaSink = (name: string, bytes: Uint8Array) => string;

/** What the conversation engine needs from a channel. */
export interface Channel {
  name: ChannelName;
  /** Longest text one message may carry (Telegram 4096, WhatsApp 1600). */
  maxLength: number;
  send(message: OutboundMessage): Promise<SendResult>;
  /** Downloads a media file (size-limited) and hands it to `save` under a safe generated name. */
  fetchMedia?(ref: MediaRef, save: MediaSink): Promise<SavedMedia>;
  /** Shows "typing…" while the agent works (Telegram). */
  showTyping?(chatId: string): Promise<void>;
}

/** Hands one inbound message to the pipeline; resolves once it is stored (durable), throws if it could not be. */
export type InboundHandler = (message: InboundMessage) => Promise<void>;

/** Each platform's limit on one message's text (console: effectively none). */
export const DEFAULT_MAX_LENGTH: Readonly<Record<ChannelName, number>> = Object.freeze({
  telegram: 4096,
  whatsapp: 1600,
  console: 1_000_000,
});
