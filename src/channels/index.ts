/** Channels: Telegram (grammY), WhatsApp (Twilio) and the terminal console, behind one Channel interface. */
export { createChannels } from "./channels.ts";
export type { Channels, CreateChannelsOptions } from "./channels.ts";
export { createConsoleChannel } from "./channels.ts";
export type { ConsoleWriter } from "./channels.ts";
export { channelsHealth } from "./channels.ts";
export { downloadMedia, MAX_MEDIA_BYTES, MediaFetchError, safeMediaName } from "./media.ts";
export { createTelegramChannel, deriveWebhookSecret, telegramSendFailure, TELEGRAM_ALLOWED_UPDATES, TELEGRAM_WEBHOOK_PATH } from "./telegram.ts";
export type { ChannelParts, TelegramChannelOptions } from "./telegram.ts";
export { TELEGRAM_OFFSET_KEY } from "./telegram-polling.ts";
export { telegramUpdateToInbound } from "./telegram.ts";
export { DEFAULT_MAX_LENGTH } from "./types.ts";
export type { Channel, ChannelName, InboundHandler, InboundMessage, MediaRef, OutboundMessage, ReplyKeyboard, SavedMedia, SendResult, SharedContact } from "./types.ts";
export { createWhatsAppChannel, EMPTY_TWIML, twilioFormToInbound, twilioSendFailure, WHATSAPP_WEBHOOK_PATH } from "./whatsapp.ts";
export type { WhatsAppChannelOptions } from "./whatsapp.ts";
