import type { Context } from "hono";
import type TwilioSDK from "twilio";
import { z } from "zod";
import type { AppContext } from "../context.ts";
import { databaseBusyResponse, isDatabaseUnavailable } from "../db/index.ts";
import { AppError, errorMessage } from "../errors.ts";
import type { RouteModule } from "../ports.ts";
import { downloadMedia, MAX_MEDIA_BYTES, MediaFetchError } from "./media.ts";
import type { ChannelParts } from "./telegram.ts";
import type {
  Channel,
  DeliveryStatusHandler,
  InboundHandler,
  InboundMessage,
  MediaRef,
  OutboundMessage,
  SendResult,
} from "./types.ts";
import { DEFAULT_MAX_LENGTH } from "./types.ts";

/** Where Twilio delivers WhatsApp messages. */
export const WHATSAPP_WEBHOOK_PATH = "/webhooks/whatsapp";
/** Where Twilio reports what happened to a message we sent (its StatusCallback). */
export const WHATSAPP_STATUS_PATH = "/webhooks/whatsapp/status";
/** The answer Twilio gets: no reply in TwiML (replies go out through the outbox). */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';
const TWILIO_DEFAULT_API = "https://api.twilio.com";

let twilioModule: typeof TwilioSDK | undefined;
/** The twilio package, loaded on first use: it costs ~100 ms, which CLI commands without WhatsApp need not pay. */
function loadTwilio(): typeof TwilioSDK {
  twilioModule ??= require("twilio") as typeof TwilioSDK;
  return twilioModule;
}

export interface WhatsAppChannelOptions {
  /** Largest media file fetched. Default 20 MB. */
  maxMediaBytes?: number;
  /** Where signature-checked status callbacks go. Default: they are acknowledged and only logged. */
  onDeliveryStatus?: DeliveryStatusHandler;
}

/** The statuses stored on the outbound row; the others (queued, sent, …) say nothing new and are acknowledged only. */
const RECORDED_STATUSES = ["delivered", "read", "undelivered", "failed"] as const;

const statusSchema = z.object({
  MessageSid: z.string().regex(/^[A-Z]{2}[0-9a-fA-F]{32}$/, "must be a Twilio message SID"),
  MessageStatus: z.string().min(1).max(40),
  ErrorCode: z
    .string()
    .regex(/^\d{1,10}$/, "must be a number")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  To: z.string().max(40).optional(),
});

const inboundSchema = z.object({
  MessageSid: z.string().min(1),
  From: z.string().regex(/^whatsapp:\+[1-9]\d{6,14}$/, "must be whatsapp:+E.164"),
  Body: z.string().default(""),
  ProfileName: z.string().optional(),
  NumMedia: z.coerce.number().int().min(0).max(20).default(0),
});

/**
 * The WhatsApp channel over Twilio: `POST /webhooks/whatsapp` (form-encoded, X-Twilio-Signature checked
 * against PUBLIC_URL + path; bad or missing → 403, nothing stored), replies through the Messages API from
 * TWILIO_WHATSAPP_FROM, media fetched with the account's credentials. Needs TWILIO_ACCOUNT_SID,
 * TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM (createChannels checks).
 */
export function createWhatsAppChannel(
  ctx: AppContext,
  onInbound: InboundHandler,
  options: WhatsAppChannelOptions = {},
): ChannelParts {
  const { config } = ctx;
  const accountSid = config.TWILIO_ACCOUNT_SID;
  const authToken = config.TWILIO_AUTH_TOKEN;
  const fromNumber = config.TWILIO_WHATSAPP_FROM;
  if (!accountSid || !authToken || !fromNumber)
    throw new Error("createWhatsAppChannel needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM");
  const signingToken: string = authToken;
  const log = ctx.log.child({ channel: "whatsapp" });
  const from = fromNumber.startsWith("whatsapp:") ? fromNumber : `whatsapp:${fromNumber}`;
  const apiBase = config.TWILIO_API_BASE ?? TWILIO_DEFAULT_API;
  const maxMediaBytes = options.maxMediaBytes ?? MAX_MEDIA_BYTES;
  const twilio = loadTwilio();
  const client = twilio(accountSid, authToken, { timeout: 30_000 });
  // messages.create goes through the "api" domain (client.messages = client.api.v2010.account.messages).
  client.api.baseUrl = apiBase;
  const statusUrl = config.PUBLIC_URL ? `${config.PUBLIC_URL}${WHATSAPP_STATUS_PATH}` : null;
  const basicAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;

  const channel: Channel = {
    name: "whatsapp",
    maxLength: DEFAULT_MAX_LENGTH.whatsapp,
    async send(message): Promise<SendResult> {
      try {
        const sent = await client.messages.create({
          from,
          to: `whatsapp:${message.chatId}`,
          ...messageContent(message),
          ...(statusUrl ? { statusCallback: statusUrl } : {}),
        });
        return { ok: true, externalId: sent.sid };
      } catch (err) {
        return twilioSendFailure(err);
      }
    },
    async fetchMedia(ref, save) {
      if (!ref.url) throw new MediaFetchError(`the ${ref.kind} has no media URL`);
      if (!isTwilioUrl(ref.url, apiBase))
        throw new MediaFetchError(`the ${ref.kind} URL is not a Twilio media URL; not sending credentials to it`);
      return downloadMedia(ref.url, ref, save, {
        maxBytes: maxMediaBytes,
        init: { headers: { authorization: basicAuth } },
      });
    },
  };

  const webhookUrl = config.PUBLIC_URL ? `${config.PUBLIC_URL}${WHATSAPP_WEBHOOK_PATH}` : null;
  /** The form of a Twilio request whose X-Twilio-Signature matches `signedUrl`; otherwise 403 (503 without PUBLIC_URL). */
  async function signedForm(c: Context, signedUrl: string | null): Promise<Record<string, string>> {
    if (!signedUrl)
      throw new AppError(
        "not_configured",
        "PUBLIC_URL is not set, so Twilio signatures cannot be checked; the request is refused.",
        503,
      );
    const form = await c.req.parseBody();
    const params = Object.fromEntries(
      Object.entries(form).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
    const signature = c.req.header("X-Twilio-Signature");
    if (!signature || !twilio.validateRequest(signingToken, signature, signedUrl, params)) {
      log.warn("twilio request with a bad or missing signature refused", {
        path: c.req.path,
        hasSignature: Boolean(signature),
      });
      throw new AppError("bad_signature", "The X-Twilio-Signature header is missing or does not match.", 403);
    }
    return params;
  }

  const routes: RouteModule = {
    mount(app) {
      app.post(WHATSAPP_STATUS_PATH, async (c) => {
        const update = statusSchema.parse(await signedForm(c, statusUrl));
        const status = RECORDED_STATUSES.find((s) => s === update.MessageStatus);
        const fields = { externalId: update.MessageSid, status: update.MessageStatus, errorCode: update.ErrorCode };
        if (!status || !options.onDeliveryStatus) {
          log.debug("whatsapp status callback acknowledged", fields);
          return c.body(null, 204);
        }
        const chatId = update.To?.startsWith("whatsapp:") ? update.To.slice("whatsapp:".length) : (update.To ?? "");
        try {
          await options.onDeliveryStatus({
            channel: "whatsapp",
            externalId: update.MessageSid,
            chatId,
            status,
            errorCode: update.ErrorCode ?? null,
          });
        } catch (err) {
          if (isDatabaseUnavailable(err)) return databaseBusyResponse(c);
          throw err;
        }
        return c.body(null, 204);
      });
      app.post(WHATSAPP_WEBHOOK_PATH, async (c) => {
        const params = await signedForm(c, webhookUrl);
        const inbound = twilioFormToInbound(params, ctx.clock.now());
        try {
          await onInbound(inbound);
        } catch (err) {
          if (isDatabaseUnavailable(err)) {
            log.warn("whatsapp message not stored: database busy; Twilio will redeliver", {
              externalId: inbound.externalId,
            });
            return databaseBusyResponse(c);
          }
          log.error("whatsapp message not accepted", { externalId: inbound.externalId, error: errorMessage(err) });
          return c.json(
            { error: { code: "inbound_failed", message: "The message could not be stored; retry later." } },
            500,
          );
        }
        return c.body(EMPTY_TWIML, 200, { "content-type": "text/xml; charset=utf-8" });
      });
    },
  };
  if (!webhookUrl) {
    log.warn(
      "WhatsApp can send but not receive: PUBLIC_URL is not set, so inbound Twilio signatures cannot be checked",
    );
    return { channel, routes, services: [], status: "on (sending only: PUBLIC_URL is not set, inbound refused)" };
  }
  return { channel, routes, services: [], status: "on" };
}

/** Reads Twilio's (already signature-checked) webhook form into an InboundMessage; zod errors → 400. */
export function twilioFormToInbound(params: Record<string, string>, receivedAtMs: number): InboundMessage {
  const parsed = inboundSchema.parse(params);
  const phone = parsed.From.slice("whatsapp:".length);
  const media: MediaRef[] = [];
  for (let i = 0; i < parsed.NumMedia; i++) {
    const url = params[`MediaUrl${i}`];
    if (!url) continue;
    const mimeType = params[`MediaContentType${i}`];
    media.push({ kind: kindOf(mimeType), url, ...(mimeType ? { mimeType } : {}) });
  }
  return {
    channel: "whatsapp",
    externalId: parsed.MessageSid,
    chatId: phone,
    senderPhone: phone,
    ...(parsed.ProfileName ? { senderName: parsed.ProfileName } : {}),
    text: parsed.Body,
    media,
    receivedAtMs,
  };
}

/**
 * What one send puts in Twilio's request: a template (ContentSid + ContentVariables, no Body), or the
 * text as Body; a file as MediaUrl (the text is its caption).
 */
export function messageContent(message: OutboundMessage): {
  body?: string;
  contentSid?: string;
  contentVariables?: string;
  mediaUrl?: string[];
} {
  if (message.template)
    return {
      contentSid: message.template.contentSid,
      contentVariables: JSON.stringify({ "1": message.template.variable }),
    };
  if (message.file) {
    if (!message.file.url) throw new Error("a WhatsApp file needs its public media URL");
    return { mediaUrl: [message.file.url], ...(message.text ? { body: message.text } : {}) };
  }
  return { body: message.text };
}

/** Maps a Twilio failure: 429 and 5xx retry, other HTTP answers are final, no answer retries. */
export function twilioSendFailure(err: unknown): SendResult {
  if (err instanceof loadTwilio().RestException) {
    const error = `twilio ${err.status}${err.code ? ` (code ${err.code})` : ""}: ${err.message}`;
    return {
      ok: false,
      retryable: err.status === 429 || err.status >= 500,
      error,
      ...(err.code ? { errorCode: String(err.code) } : {}),
    };
  }
  return { ok: false, retryable: true, error: `twilio unreachable: ${errorMessage(err)}` };
}

function kindOf(mimeType: string | undefined): MediaRef["kind"] {
  if (!mimeType) return "other";
  if (mimeType.startsWith("image/")) return "photo";
  if (mimeType === "audio/ogg" || mimeType.startsWith("audio/ogg;")) return "voice";
  if (mimeType.startsWith("audio/")) return "audio";
  if (mimeType.startsWith("video/")) return "video";
  return "document";
}

/** Credentials go only to the configured Twilio API origin or Twilio's own https hosts. */
function isTwilioUrl(raw: string, apiBase: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.origin === new URL(apiBase).origin) return true;
  return url.protocol === "https:" && (url.hostname === "twilio.com" || url.hostname.endsWith(".twilio.com"));
}
