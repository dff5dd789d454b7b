import { createHmac } from "node:crypto";
import { Bot, GrammyError, HttpError, InputFile, webhookCallback } from "grammy";
import type { Message, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update, UserFromGetMe } from "grammy/types";
import type { Context } from "hono";
import { z } from "zod";
import type { AppContext } from "../context.ts";
import { databaseBusyResponse, isDatabaseUnavailable } from "../db/index.ts";
import { errorMessage } from "../errors.ts";
import type { RouteModule, Service } from "../ports.ts";
import { isSameSecret } from "../run-tokens.ts";
import { downloadMedia, MAX_MEDIA_BYTES, MediaFetchError } from "./media.ts";
import { createTelegramPolling } from "./telegram-polling.ts";
import type { Channel, InboundHandler, InboundMessage, MediaRef, ReplyKeyboard, SendResult } from "./types.ts";
import { DEFAULT_MAX_LENGTH } from "./types.ts";

/** A channel plus what it adds to the server: its webhook route and its loops. */
export interface ChannelParts {
  channel: Channel;
  routes?: RouteModule;
  services: Service[];
  /** One line for /health and the start-up log, e.g. "on (webhook)"; later problems are appended ("; getMe failed: …"). */
  readonly status: string;
}

export interface TelegramChannelOptions {
  /** Largest media file fetched. Default 20 MB. */
  maxMediaBytes?: number;
  /** Long-poll wait per getUpdates call (polling mode). Default 25 s. */
  pollTimeoutS?: number;
  /** First delay after a failed poll or a failed handler; doubles up to 30 s. Default 1 000 ms. */
  pollRetryMs?: number;
  /** First delay before registering the webhook again after a failure; doubles up to 5 min. Default 5 000 ms. */
  webhookRetryMs?: number;
}

/** Longest caption Telegram takes on a photo or document. */
const TELEGRAM_CAPTION_MAX = 1024;

/** The update types the bot asks Telegram for (webhook and polling). */
export const TELEGRAM_ALLOWED_UPDATES = ["message"] as const;
/** Where Telegram delivers updates in webhook mode. */
export const TELEGRAM_WEBHOOK_PATH = "/webhooks/telegram";

/**
 * The Telegram channel (grammY): sends replies, shows "typing…", fetches media, and receives updates
 * through `POST /webhooks/telegram` (secret-token checked) or long polling, as TELEGRAM_MODE says.
 * Each update is handed to `onInbound`; the webhook is answered 200 only after it resolved, 500 if it threw.
 * Needs TELEGRAM_BOT_TOKEN (createChannels checks).
 */
export function createTelegramChannel(
  ctx: AppContext,
  onInbound: InboundHandler,
  options: TelegramChannelOptions = {},
): ChannelParts {
  const { config } = ctx;
  const token = config.TELEGRAM_BOT_TOKEN;
  if (!token) throw new Error("createTelegramChannel needs TELEGRAM_BOT_TOKEN");
  const log = ctx.log.child({ channel: "telegram" });
  const apiRoot = config.TELEGRAM_API_ROOT;
  const maxMediaBytes = options.maxMediaBytes ?? MAX_MEDIA_BYTES;
  const bot = new Bot(token, { client: { apiRoot, timeoutSeconds: 30 }, botInfo: placeholderBotInfo(token) });

  bot.on("message", async (c) => {
    const inbound = telegramUpdateToInbound(c.update, ctx.clock.now());
    if (inbound) await onInbound(inbound);
  });

  const channel: Channel = {
    name: "telegram",
    maxLength: DEFAULT_MAX_LENGTH.telegram,
    async send(message): Promise<SendResult> {
      try {
        const markup = message.keyboard ? replyMarkup(message.keyboard) : undefined;
        if (message.file) {
          const file = message.file;
          await bot.api.sendChatAction(message.chatId, "upload_document").catch(() => {}); // a hint only
          const input = new InputFile(file.path, file.fileName);
          const extra = {
            ...(message.text ? { caption: message.text.slice(0, TELEGRAM_CAPTION_MAX) } : {}),
            ...(markup ? { reply_markup: markup } : {}),
          };
          const sent =
            file.kind === "photo"
              ? await bot.api.sendPhoto(message.chatId, input, extra)
              : await bot.api.sendDocument(message.chatId, input, extra);
          return { ok: true, externalId: String(sent.message_id) };
        }
        const sent = await bot.api.sendMessage(
          message.chatId,
          message.text,
          markup ? { reply_markup: markup } : undefined,
        );
        return { ok: true, externalId: String(sent.message_id) };
      } catch (err) {
        return telegramSendFailure(err);
      }
    },
    async showTyping(chatId) {
      try {
        await bot.api.sendChatAction(chatId, "typing");
      } catch (err) {
        // Only a hint for the customer; a failed one changes nothing.
        log.debug("sendChatAction failed", { chatId, error: errorMessage(err) });
      }
    },
    async fetchMedia(ref, save) {
      if (!ref.fileId) throw new MediaFetchError(`the ${ref.kind} has no Telegram file id`);
      if (ref.sizeBytes !== undefined && ref.sizeBytes > maxMediaBytes) {
        throw new MediaFetchError(
          `the file is too large (${ref.sizeBytes} bytes; the limit is ${maxMediaBytes})`,
          "media_too_large",
        );
      }
      let filePath: string | undefined;
      try {
        filePath = (await bot.api.getFile(ref.fileId)).file_path;
      } catch (err) {
        throw new MediaFetchError(`getFile failed for the ${ref.kind}: ${errorMessage(err)}`, "media_fetch_failed", {
          cause: err,
        });
      }
      if (!filePath) throw new MediaFetchError(`Telegram gave no file path for the ${ref.kind}`);
      const url = `${apiRoot}/file/bot${token}/${filePath.split("/").map(encodeURIComponent).join("/")}`;
      return downloadMedia(url, ref, save, { maxBytes: maxMediaBytes, nameHint: filePath });
    },
  };

  let mode = config.TELEGRAM_MODE === "polling" ? "on (polling)" : "on (webhook)";
  const problems = new Map<"getMe" | "setWebhook", string>();
  const setProblem = (key: "getMe" | "setWebhook", problem: string | null) =>
    void (problem ? problems.set(key, problem) : problems.delete(key));
  const parts: ChannelParts = {
    channel,
    services: [],
    get status() {
      return [mode, ...problems.values()].join("; ");
    },
  };
  // getMe runs in the background: a slow Telegram must not hold up the server's start.
  parts.services.push({
    name: "telegram-bot-info",
    start: () => void loadBotInfo(bot, log, (p) => setProblem("getMe", p)),
    stop: () => {},
  });
  if (config.TELEGRAM_MODE === "polling") {
    parts.services.push(
      createTelegramPolling(ctx, bot, {
        allowedUpdates: [...TELEGRAM_ALLOWED_UPDATES],
        timeoutS: options.pollTimeoutS,
        retryMs: options.pollRetryMs,
      }),
    );
    return parts;
  }

  const secretToken = config.TELEGRAM_WEBHOOK_SECRET ?? deriveWebhookSecret(token);
  const handleWebhook = webhookCallback(bot, "hono", { secretToken, onTimeout: "throw", timeoutMilliseconds: 10_000 });
  parts.routes = {
    mount(app) {
      app.post(TELEGRAM_WEBHOOK_PATH, async (c) => {
        const refused = await checkTelegramDelivery(c, secretToken);
        if (refused) {
          if (refused.status === 400) log.warn("telegram webhook body refused", { status: 400 });
          return refused;
        }
        try {
          return await handleWebhook(c);
        } catch (err) {
          if (isDatabaseUnavailable(err)) {
            log.warn("telegram update not stored: database busy; Telegram will redeliver");
            return databaseBusyResponse(c);
          }
          // Not stored: answer 500 so Telegram delivers the update again.
          log.error("telegram update not accepted; Telegram will redeliver", { error: errorMessage(err) });
          return c.json(
            { error: { code: "inbound_failed", message: "The update could not be stored; retry later." } },
            500,
          );
        }
      });
    },
  };
  if (!config.PUBLIC_URL) {
    log.warn(
      "TELEGRAM_MODE=webhook without PUBLIC_URL: the webhook is not registered; set PUBLIC_URL or register it yourself with TELEGRAM_WEBHOOK_SECRET",
    );
    mode = "on (webhook, not registered: PUBLIC_URL is not set)";
    return parts;
  }
  const webhookUrl = `${config.PUBLIC_URL}${TELEGRAM_WEBHOOK_PATH}`;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryMs = options.webhookRetryMs ?? 5_000;
  const register = async (): Promise<void> => {
    try {
      await bot.api.setWebhook(webhookUrl, {
        secret_token: secretToken,
        allowed_updates: [...TELEGRAM_ALLOWED_UPDATES],
      });
      setProblem("setWebhook", null);
      log.info("telegram webhook registered", { url: webhookUrl });
    } catch (err) {
      setProblem("setWebhook", `webhook registration failed: ${errorMessage(err)}`);
      log.error("telegram webhook registration failed; updates will not arrive until it succeeds (retrying)", {
        url: webhookUrl,
        error: errorMessage(err),
        retryMs,
      });
      retryTimer = setTimeout(() => void register(), retryMs);
      retryMs = Math.min(retryMs * 2, MAX_WEBHOOK_RETRY_MS);
    }
  };
  parts.services.push({
    name: "telegram-webhook",
    start: register,
    stop() {
      clearTimeout(retryTimer);
    },
  });
  return parts;
}

const MAX_WEBHOOK_RETRY_MS = 300_000;

/** The label of the linking flow's button; tapping it sends the customer's own contact card. */
export const SHARE_PHONE_BUTTON = "📱 Share my phone number";

/** Telegram's markup for a reply keyboard: the one-time "share my phone number" button, or removing it. */
export function replyMarkup(keyboard: ReplyKeyboard): ReplyKeyboardMarkup | ReplyKeyboardRemove {
  if (keyboard === "remove") return { remove_keyboard: true };
  return {
    keyboard: [[{ text: SHARE_PHONE_BUTTON, request_contact: true }]],
    one_time_keyboard: true,
    resize_keyboard: true,
  };
}

/** Maps a grammY failure: 429 waits retry_after, 5xx and network errors retry, other 4xx are final. */
export function telegramSendFailure(err: unknown): SendResult {
  if (err instanceof GrammyError) {
    const error = `telegram ${err.error_code}: ${err.description}`;
    if (err.error_code === 429)
      return { ok: false, retryable: true, retryAfterMs: (err.parameters.retry_after ?? 1) * 1000, error };
    return { ok: false, retryable: err.error_code >= 500, error };
  }
  if (err instanceof HttpError) return { ok: false, retryable: true, error: `telegram unreachable: ${err.message}` };
  return { ok: false, retryable: true, error: `telegram send failed: ${errorMessage(err)}` };
}

/**
 * The webhook secret when TELEGRAM_WEBHOOK_SECRET is not set: derived from the bot token, so every
 * process of the deployment agrees on it without storing another secret.
 */
export function deriveWebhookSecret(token: string): string {
  return createHmac("sha256", token).update("proxystaff telegram webhook secret").digest("base64url");
}

/** Enough bot info for grammY to handle updates before (or without) getMe. */
function placeholderBotInfo(token: string): UserFromGetMe {
  return {
    id: Number(token.split(":")[0]),
    is_bot: true,
    first_name: "ProxyStaff",
    username: "proxystaff_bot",
    can_join_groups: false,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    has_topics_enabled: false,
    allows_users_to_create_topics: false,
    can_manage_bots: false,
    supports_join_request_queries: false,
  };
}

/** Checks the token with getMe and keeps the real bot info; a failure is logged, not fatal. */
async function loadBotInfo(bot: Bot, log: AppContext["log"], report: (problem: string | null) => void): Promise<void> {
  try {
    const me = await bot.api.getMe();
    bot.botInfo = me;
    report(null);
    log.info("telegram bot ready", { username: me.username });
  } catch (err) {
    report(`getMe failed: ${errorMessage(err)}`);
    log.error("telegram getMe failed: check TELEGRAM_BOT_TOKEN and TELEGRAM_API_ROOT", { error: errorMessage(err) });
  }
}

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
    ...(contact
      ? {
          contact: {
            phoneNumber: contact.phone_number,
            ...(contact.user_id !== undefined ? { userId: String(contact.user_id) } : {}),
          },
        }
      : {}),
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
  if (message.document) media.push(namedFile("document", message.document));
  if (message.voice) {
    const v = message.voice;
    media.push(withSize({ kind: "voice", fileId: v.file_id, mimeType: v.mime_type ?? "audio/ogg" }, v.file_size));
  }
  if (message.audio) media.push(namedFile("audio", message.audio));
  if (message.video) media.push(namedFile("video", message.video));
  if (message.video_note) {
    media.push(
      withSize(
        { kind: "video", fileId: message.video_note.file_id, mimeType: "video/mp4" },
        message.video_note.file_size,
      ),
    );
  }
  return media;
}

function describeOther(message: Message): string {
  if (message.sticker) return `[sticker${message.sticker.emoji ? ` ${message.sticker.emoji}` : ""}]`;
  if (message.location) return `[location ${message.location.latitude},${message.location.longitude}]`;
  if (message.contact)
    return `[contact ${[message.contact.first_name, message.contact.last_name].filter(Boolean).join(" ")} ${message.contact.phone_number}]`;
  if (message.poll) return `[poll: ${message.poll.question}]`;
  return "[a message type the bot cannot read]";
}

function nameOf(message: Message): string | undefined {
  const from = message.from;
  const name = from ? [from.first_name, from.last_name].filter(Boolean).join(" ") : undefined;
  if (name) return name;
  return "title" in message.chat ? message.chat.title : undefined;
}

/** A document, audio or video: its id, and its type, name and size when Telegram gives them. */
function namedFile(
  kind: "document" | "audio" | "video",
  file: { file_id: string; mime_type?: string; file_name?: string; file_size?: number },
): MediaRef {
  const ref = {
    kind,
    fileId: file.file_id,
    ...optional("mimeType", file.mime_type),
    ...optional("fileName", file.file_name),
  };
  return withSize(ref, file.file_size);
}

function withSize(ref: MediaRef, size: number | undefined): MediaRef {
  return size === undefined ? ref : { ...ref, sizeBytes: size };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

// Only the fields ProxyStaff reads are checked; everything else Telegram sends passes through.
const chat = z.looseObject({ id: z.union([z.number().int(), z.string().min(1)]), type: z.string() });
const sized = z.looseObject({ file_id: z.string().min(1), file_size: z.number().optional() });
const message = z.looseObject({
  message_id: z.number().int(),
  date: z.number(),
  chat,
  from: z.looseObject({ first_name: z.string().optional(), last_name: z.string().optional() }).optional(),
  text: z.string().optional(),
  caption: z.string().optional(),
  photo: z.array(sized.extend({ width: z.number(), height: z.number() })).optional(),
  document: sized.optional(),
  voice: sized.optional(),
  audio: sized.optional(),
  video: sized.optional(),
  video_note: sized.optional(),
});

/** The shape of an update the pipeline can read (a message, or anything else it ignores). */
export const telegramUpdateSchema = z.looseObject({
  update_id: z.number().int().nonnegative(),
  message: message.optional(),
});

/**
 * Checks a webhook delivery before grammY sees it: the secret first (401, as grammY would), then the body's
 * shape (400 with what is wrong). grammY trusts the body, and a malformed one would otherwise end in a 500
 * that makes Telegram redeliver it forever. Returns a response to send, or null to hand the request on.
 * Hono caches the parsed body, so grammY reads the same JSON again without a second parse.
 */
export async function checkTelegramDelivery(c: Context, secretToken: string): Promise<Response | null> {
  const given = c.req.header("x-telegram-bot-api-secret-token") ?? "";
  if (!isSameSecret(secretToken, given)) {
    return c.json(
      { error: { code: "unauthorized", message: "Wrong or missing X-Telegram-Bot-Api-Secret-Token." } },
      401,
    );
  }
  const body: unknown = await c.req.json().catch(() => undefined);
  const parsed = telegramUpdateSchema.safeParse(body);
  if (!parsed.success) {
    const where = parsed.error.issues[0];
    const detail = where ? `${where.path.join(".") || "body"}: ${where.message}` : "not a Telegram update";
    return c.json({ error: { code: "invalid_update", message: `Not a Telegram update (${detail}).` } }, 400);
  }
  return null;
}
