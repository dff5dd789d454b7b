import type TwilioSDK from "twilio";
import { z } from "zod";
import type { AppContext } from "../context.ts";
import { databaseBusyResponse, isDatabaseBusy } from "../db/index.ts";
import { AppError, errorMessage } from "../errors.ts";
import type { RouteModule } from "../ports.ts";
import { downloadMedia, MAX_MEDIA_BYTES, MediaFetchError } from "./media.ts";
import type { ChannelParts } from "./telegram.ts";
import type { Channel, InboundHandler, InboundMessage, MediaRef, SendResult } from "./types.ts";
import { DEFAULT_MAX_LENGTH } from "./types.ts";

/** Where Twilio delivers WhatsApp messages. */
export const WHATSAPP_WEBHOOK_PATH = "/webhooks/whatsapp";
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
}

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
  const log = ctx.log.child({ channel: "whatsapp" });
  const from = fromNumber.startsWith("whatsapp:") ? fromNumber : `whatsapp:${fromNumber}`;
  const apiBase = config.TWILIO_API_BASE ?? TWILIO_DEFAULT_API;
  const maxMediaBytes = options.maxMediaBytes ?? MAX_MEDIA_BYTES;
  const twilio = loadTwilio();
  const client = twilio(accountSid, authToken, { timeout: 30_000 });
  // messages.create goes through the "api" domain (client.messages = client.api.v2010.account.messages).
  client.api.baseUrl = apiBase;
  const basicAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;

  const channel: Channel = {
    name: "whatsapp",
    maxLength: DEFAULT_MAX_LENGTH.whatsapp,
    async send(message): Promise<SendResult> {
      try {
        const sent = await client.messages.create({ from, to: `whatsapp:${message.chatId}`, body: message.text });
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
  const routes: RouteModule = {
    mount(app) {
      app.post(WHATSAPP_WEBHOOK_PATH, async (c) => {
        if (!webhookUrl)
          throw new AppError(
            "not_configured",
            "PUBLIC_URL is not set, so Twilio signatures cannot be checked; inbound WhatsApp is refused.",
            503,
          );
        const form = await c.req.parseBody();
        const params = Object.fromEntries(
          Object.entries(form).filter((e): e is [string, string] => typeof e[1] === "string"),
        );
        const signature = c.req.header("X-Twilio-Signature");
        if (!signature || !twilio.validateRequest(authToken, signature, webhookUrl, params)) {
          log.warn("whatsapp webhook with a bad or missing signature refused", { hasSignature: Boolean(signature) });
          throw new AppError("bad_signature", "The X-Twilio-Signature header is missing or does not match.", 403);
        }
        const inbound = twilioFormToInbound(params, ctx.clock.now());
        try {
          await onInbound(inbound);
        } catch (err) {
          if (isDatabaseBusy(err)) {
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

/** Maps a Twilio failure: 429 and 5xx retry, other HTTP answers are final, no answer retries. */
export function twilioSendFailure(err: unknown): SendResult {
  if (err instanceof loadTwilio().RestException) {
    const error = `twilio ${err.status}${err.code ? ` (code ${err.code})` : ""}: ${err.message}`;
    return { ok: false, retryable: err.status === 429 || err.status >= 500, error };
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
