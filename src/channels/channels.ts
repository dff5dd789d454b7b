import type { AppContext } from "../context.ts";
import { errorMessage } from "../errors.ts";
import type { HealthContributor, RouteModule, Service } from "../ports.ts";
import type { ChannelParts, TelegramChannelOptions } from "./telegram.ts";
import { createTelegramChannel } from "./telegram.ts";
import type {
  Channel,
  ChannelName,
  DeliveryStatusHandler,
  InboundHandler,
  InboundMessage,
  SendResult,
} from "./types.ts";
import { DEFAULT_MAX_LENGTH } from "./types.ts";
import type { WhatsAppChannelOptions } from "./whatsapp.ts";
import { createWhatsAppChannel } from "./whatsapp.ts";

export interface CreateChannelsOptions {
  /** The pipeline; may also be set later with setInboundHandler (until then webhooks answer 500 and Telegram redelivers). */
  onInbound?: InboundHandler;
  /** Adds the `console` channel (proxystaff chat), writing replies here. */
  console?: ConsoleWriter;
  telegram?: TelegramChannelOptions;
  whatsapp?: WhatsAppChannelOptions;
}

/** The configured channels and what they add to the server. */
export interface Channels {
  /** The channels that are on (plus `console` when asked for). */
  byName: Map<ChannelName, Channel>;
  /** Webhook routes of the channels that are on. */
  routes: RouteModule;
  /** Polling, webhook registration and the like. */
  services: Service[];
  /** For /health and the start-up log: "on (webhook)", "off: TELEGRAM_BOT_TOKEN is not set", … */
  status: Record<string, string>;
  /** Sets (or replaces) where inbound messages go. */
  setInboundHandler(handler: InboundHandler): void;
  /** Sets where delivery receipts (WhatsApp status callbacks) go; until then they are acknowledged and logged. */
  setDeliveryStatusHandler(handler: DeliveryStatusHandler): void;
}

/** Builds every channel the configuration allows; logs one line per channel saying whether it is on, and why not. */
export function createChannels(ctx: AppContext, options: CreateChannelsOptions = {}): Channels {
  const { config } = ctx;
  let handler = options.onInbound;
  const onInbound: InboundHandler = async (message: InboundMessage) => {
    if (!handler) throw new Error("no inbound handler is set yet");
    await handler(message);
  };

  let deliveryHandler: DeliveryStatusHandler | undefined;
  const onDeliveryStatus: DeliveryStatusHandler = async (update) => {
    if (!deliveryHandler) {
      ctx.log.info("delivery status not recorded: no handler is set", { channel: update.channel });
      return;
    }
    await deliveryHandler(update);
  };

  const parts: ChannelParts[] = [];
  const status: Record<string, string> = {};

  if (!config.TELEGRAM_BOT_TOKEN) status.telegram = "off: TELEGRAM_BOT_TOKEN is not set";
  else if (config.TELEGRAM_MODE === "off") status.telegram = "off: TELEGRAM_MODE=off";
  else parts.push(createTelegramChannel(ctx, onInbound, options.telegram));

  const missingTwilio = (["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM"] as const).filter(
    (name) => !config[name],
  );
  if (missingTwilio.length > 0)
    status.whatsapp = `off: ${missingTwilio.join(", ")} ${missingTwilio.length === 1 ? "is" : "are"} not set`;
  else parts.push(createWhatsAppChannel(ctx, onInbound, { ...options.whatsapp, onDeliveryStatus }));

  const byName = new Map<ChannelName, Channel>();
  for (const part of parts) {
    byName.set(part.channel.name, part.channel);
    // A getter: problems found later (a rejected token, a failed webhook registration) show up on /health.
    Object.defineProperty(status, part.channel.name, { get: () => part.status, enumerable: true });
  }
  if (options.console) {
    byName.set("console", createConsoleChannel(options.console));
    status.console = "on";
  }

  // A channel left unset is a choice (info); half a Twilio setup is a mistake, and no channel at all
  // means no customer can reach an agent (warnings).
  const halfTwilio = missingTwilio.length > 0 && missingTwilio.length < 3;
  for (const [name, line] of Object.entries(status)) {
    const level = name === "whatsapp" && halfTwilio ? "warn" : "info";
    ctx.log[level](`channel ${name} is ${line}`, { channel: name, status: line });
  }
  if (parts.length === 0) {
    ctx.log.warn(
      "no chat channel is on: customers cannot reach their agents until TELEGRAM_BOT_TOKEN or the TWILIO_* variables are set (docs/channels.md); the admin API and the CLI work",
    );
  }

  return {
    byName,
    routes: {
      mount(app, admin) {
        for (const part of parts) part.routes?.mount(app, admin);
      },
    },
    services: parts.flatMap((p) => p.services),
    status,
    setInboundHandler(next) {
      handler = next;
    },
    setDeliveryStatusHandler(next) {
      deliveryHandler = next;
    },
  };
}

/** Receives each reply the console channel "sends" (the terminal chat prints it). */
export type ConsoleWriter = (chatId: string, text: string) => void | Promise<void>;

/**
 * The `console` channel behind `proxystaff chat`: replies go to an injected writer instead of a
 * platform. Sending never fails unless the writer throws (then it is retried like a network error).
 */
export function createConsoleChannel(write: ConsoleWriter): Channel {
  let sentCount = 0;
  return {
    name: "console",
    maxLength: DEFAULT_MAX_LENGTH.console,
    async send(message): Promise<SendResult> {
      try {
        await write(message.chatId, message.text);
      } catch (err) {
        return { ok: false, retryable: true, error: `console write failed: ${errorMessage(err)}` };
      }
      sentCount++;
      return { ok: true, externalId: `console-${Date.now()}-${sentCount}` };
    },
  };
}

/**
 * GET /health fields: each channel's on/off line and, when given, how many replies wait in the outbox
 * and how many WhatsApp replies failed outside the 24-hour window in the last 24 h.
 */
export function channelsHealth(
  channels: Pick<Channels, "status">,
  outbox?: { pendingCount(): Promise<number>; outsideWindowFailures?(): Promise<number> },
): HealthContributor {
  return async function channelHealth() {
    const fields: Record<string, unknown> = { channels: channels.status };
    if (outbox) fields.outbox_pending = await outbox.pendingCount();
    // WhatsApp replies that could not go out in the last 24 h: the window was closed and no template is set.
    if (outbox?.outsideWindowFailures && "whatsapp" in channels.status)
      fields.whatsapp_outside_window_failed_24h = await outbox.outsideWindowFailures();
    return { fields };
  };
}
