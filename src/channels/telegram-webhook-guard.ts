import type { Context } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import { z } from "zod";

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
export const telegramUpdateSchema = z.looseObject({ update_id: z.number().int().nonnegative(), message: message.optional() });

/**
 * Checks a webhook delivery before grammY sees it: the secret first (401, as grammY would), then the body's
 * shape (400 with what is wrong). grammY trusts the body, and a malformed one would otherwise end in a 500
 * that makes Telegram redeliver it forever. Returns a response to send, or null to hand the request on.
 * Hono caches the parsed body, so grammY reads the same JSON again without a second parse.
 */
export async function checkTelegramDelivery(c: Context, secretToken: string): Promise<Response | null> {
  const given = c.req.header("x-telegram-bot-api-secret-token") ?? "";
  if (!(await timingSafeEqual(secretToken, given))) {
    return c.json({ error: { code: "unauthorized", message: "Wrong or missing X-Telegram-Bot-Api-Secret-Token." } }, 401);
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
