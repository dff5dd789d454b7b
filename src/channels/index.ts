/** Channels: Telegram (grammY), WhatsApp (Twilio) and the terminal console, behind one Channel interface. */
export { channelsHealth, createChannels, createConsoleChannel } from "./channels.ts";
export type {
  Channel,
  ChannelName,
  DeliveryStatusUpdate,
  OutboundFile,
  ReplyKeyboard,
  SendResult,
  WhatsAppTemplateSend,
} from "./types.ts";
export { DEFAULT_MAX_LENGTH } from "./types.ts";
