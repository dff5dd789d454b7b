/** Channels: Telegram (grammY), WhatsApp (Twilio) and the terminal console, behind one Channel interface. */
export { createChannels } from "./channels.ts";
export { createConsoleChannel } from "./channels.ts";
export { channelsHealth } from "./channels.ts";
export { DEFAULT_MAX_LENGTH } from "./types.ts";
export type { Channel, ChannelName, ReplyKeyboard, SendResult } from "./types.ts";
