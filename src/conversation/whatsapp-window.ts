import { and, desc, eq, inArray } from "drizzle-orm";
import type { SendResult, WhatsAppTemplateSend } from "../channels/index.ts";
import type { AppContext } from "../context.ts";
import { getCredential } from "../credentials/index.ts";
import { schema } from "../db/index.ts";

/** WhatsApp accepts free-form business messages only this long after the customer last wrote. */
export const WHATSAPP_WINDOW_MS = 24 * 60 * 60 * 1000;
/**
 * Longest value we put in a template variable. Twilio documents 1,600 characters per value but
 * recommends under 250, and its error 50541 still says 256; 255 is safe under every statement.
 */
export const TEMPLATE_VARIABLE_MAX_CHARS = 255;
/** The error (and code) of a message that could not go out: outside the window and no template configured. */
export const OUTSIDE_WINDOW_ERROR = "outside_whatsapp_window";
/** Twilio's "outside the allowed window" error code. */
export const TWILIO_OUTSIDE_WINDOW_CODE = "63016";
/** The credential (and platform variable) naming the template. */
export const TEMPLATE_CREDENTIAL = "WHATSAPP_TEMPLATE_SID";

/** How a WhatsApp message to a chat may go out now. */
export type WhatsAppSendMode =
  | { mode: "free" }
  | { mode: "template"; contentSid: string }
  | { mode: "closed"; lastInboundAt: string | null };

const { messages } = schema;

/**
 * When the customer of a WhatsApp chat last wrote: the newest inbound row they sent (kind chat or
 * command; a scheduled task's prompt row is ours, not theirs), as ISO time; null when never.
 */
export async function lastCustomerMessageAt(ctx: Pick<AppContext, "db">, chatId: string): Promise<string | null> {
  const [row] = await ctx.db
    .select({ at: messages.created_at })
    .from(messages)
    .where(
      and(
        eq(messages.channel, "whatsapp"),
        eq(messages.chat_id, chatId),
        eq(messages.direction, "in"),
        inArray(messages.kind, ["chat", "command"]),
      ),
    )
    .orderBy(desc(messages.created_at))
    .limit(1);
  return row?.at ?? null;
}

/** The template to use for a tenant: its own WHATSAPP_TEMPLATE_SID credential, else the platform's; null when neither. */
export async function whatsappTemplateSid(ctx: AppContext, tenantId: string | null): Promise<string | null> {
  if (tenantId) {
    const own = await getCredential(ctx, tenantId, TEMPLATE_CREDENTIAL).catch(() => null);
    if (own?.trim()) return own.trim();
  }
  return ctx.config.WHATSAPP_TEMPLATE_SID ?? null;
}

/** Free text inside the 24-hour window; outside it the template, or `closed` when there is none. */
export async function whatsappSendMode(
  ctx: AppContext,
  target: { tenantId: string | null; chatId: string },
): Promise<WhatsAppSendMode> {
  const lastInboundAt = await lastCustomerMessageAt(ctx, target.chatId);
  if (lastInboundAt !== null && ctx.clock.now() - Date.parse(lastInboundAt) < WHATSAPP_WINDOW_MS)
    return { mode: "free" };
  const contentSid = await whatsappTemplateSid(ctx, target.tenantId);
  return contentSid ? { mode: "template", contentSid } : { mode: "closed", lastInboundAt };
}

/**
 * The text as a template variable: WhatsApp refuses variables with line breaks, tabs or more than four
 * spaces in a row, so whitespace is flattened; longer than TEMPLATE_VARIABLE_MAX_CHARS → cut with "…"
 * (the outbox splits template messages to that length first, so this only cuts a reply the window
 * closed on while it waited).
 */
export function templateSend(contentSid: string, text: string): WhatsAppTemplateSend {
  const flat = text.replace(/\s+/g, " ").trim();
  const variable =
    flat.length > TEMPLATE_VARIABLE_MAX_CHARS ? `${flat.slice(0, TEMPLATE_VARIABLE_MAX_CHARS - 1)}…` : flat;
  return { contentSid, variable };
}

/**
 * Sends one WhatsApp message as the window allows: free text inside it; outside, the template (a file
 * cannot go as one); closed with no template → not sent, `outside_whatsapp_window` (final). Twilio
 * answering 63016 anyway (clock skew, the window closed while the message waited) → sent again at once
 * as the template, once, if there is one. `send` does the actual send, with the template or without.
 */
export async function sendInWindow(
  ctx: AppContext,
  message: { messageId: string; tenantId: string | null; chatId: string; text: string; hasFile: boolean },
  send: (template?: WhatsAppTemplateSend) => Promise<SendResult>,
): Promise<SendResult> {
  const outsideWindow = (errorCode: string | null): SendResult => {
    ctx.log.warn("whatsapp message not sent: outside the 24-hour window and no template", {
      messageId: message.messageId,
      tenantId: message.tenantId,
    });
    return { ok: false, retryable: false, error: OUTSIDE_WINDOW_ERROR, ...(errorCode ? { errorCode } : {}) };
  };
  const mode = await whatsappSendMode(ctx, message);
  if (mode.mode === "closed" || (mode.mode === "template" && message.hasFile)) return outsideWindow(null);
  const template = mode.mode === "template" ? templateSend(mode.contentSid, message.text) : undefined;
  const result = await send(template);
  if (result.ok || result.errorCode !== TWILIO_OUTSIDE_WINDOW_CODE) return result;
  const contentSid = template || message.hasFile ? null : await whatsappTemplateSid(ctx, message.tenantId);
  if (!contentSid) return outsideWindow(TWILIO_OUTSIDE_WINDOW_CODE);
  ctx.log.info("whatsapp said the window is closed; sending as the template", { messageId: message.messageId });
  const retried = await send(templateSend(contentSid, message.text));
  return retried.ok || retried.errorCode !== TWILIO_OUTSIDE_WINDOW_CODE
    ? retried
    : outsideWindow(TWILIO_OUTSIDE_WINDOW_CODE);
}
