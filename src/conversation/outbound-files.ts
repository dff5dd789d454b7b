import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { ChannelName, OutboundFile } from "../channels/index.ts";
import type { AppContext } from "../context.ts";
import { schema } from "../db/index.ts";
import type { RouteModule } from "../ports.ts";

/** Where Twilio fetches a file we send on WhatsApp. */
export const MEDIA_ROUTE_PREFIX = "/media/";
/** How long a media URL works after the send. */
export const MEDIA_URL_TTL_MS = 60 * 60 * 1000;
/** A spooled file of a row no longer pending is kept this long (Twilio fetches it after the send), then removed. */
const SPOOL_KEEP_MS = 2 * MEDIA_URL_TTL_MS;

/** The platforms' limits on one file: Telegram 50 MB documents / 10 MB photos; WhatsApp 16 MB, images 5 MB. */
export const FILE_LIMIT_BYTES: Readonly<Record<"telegram" | "whatsapp", Record<OutboundFile["kind"], number>>> =
  Object.freeze({
    telegram: { photo: 10 * 1024 * 1024, document: 50 * 1024 * 1024 },
    whatsapp: { photo: 5 * 1024 * 1024, document: 16 * 1024 * 1024 },
  });

const MIME_BY_EXTENSION: Readonly<Record<string, string>> = {
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".txt": "text/plain",
  ".csv": "text/csv",
  ".md": "text/markdown",
  ".html": "text/html",
  ".json": "application/json",
  ".doc": "application/msword",
  ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  ".xls": "application/vnd.ms-excel",
  ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ".ppt": "application/vnd.ms-powerpoint",
  ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  ".zip": "application/zip",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".mp4": "video/mp4",
};

/** The file's content type (by its extension) and how it is sent: JPEG and PNG as a picture, the rest as a document. */
export function describeFile(fileName: string): { mimeType: string; kind: OutboundFile["kind"] } {
  const mimeType = MIME_BY_EXTENSION[extname(fileName).toLowerCase()] ?? "application/octet-stream";
  return { mimeType, kind: mimeType === "image/jpeg" || mimeType === "image/png" ? "photo" : "document" };
}

/** What an outbound row with a file keeps in `messages.media` (the bytes are in the spool under the row's id). */
export const storedOutboundFileSchema = z.object({
  file: z.object({
    fileName: z.string().min(1).max(255),
    mimeType: z.string().min(1).max(200),
    sizeBytes: z.number().int().min(0),
    kind: z.enum(["photo", "document"]),
  }),
});
export type StoredOutboundFile = z.infer<typeof storedOutboundFileSchema>["file"];

/** The stored file of an outbound row's `media`, or null (no file, or not ours). */
export function parseOutboundFile(media: string | null): StoredOutboundFile | null {
  if (!media) return null;
  try {
    const parsed = storedOutboundFileSchema.safeParse(JSON.parse(media));
    return parsed.success ? parsed.data.file : null;
  } catch {
    return null;
  }
}

/** The server's own folder of files waiting to be sent (never inside a workspace: the agent cannot touch it). */
export function spoolDir(config: AppContext["config"]): string {
  return join(config.DATA_DIR, "outbound-files");
}

/** Where the bytes of outbound row `messageId` are kept. */
export function spoolPath(config: AppContext["config"], messageId: string): string {
  if (!/^[0-9a-f-]{36}$/.test(messageId)) throw new Error("spool files are named by message UUID");
  return join(spoolDir(config), messageId);
}

/** Keeps the bytes for row `messageId` (the copy the send uses, so the agent changing its file later changes nothing). */
export function spoolFile(config: AppContext["config"], messageId: string, bytes: Uint8Array): string {
  mkdirSync(spoolDir(config), { recursive: true, mode: 0o700 });
  const path = spoolPath(config, messageId);
  writeFileSync(path, bytes, { mode: 0o600, flag: "wx" });
  return path;
}

/**
 * The key media URLs are signed with, derived from the server's secrets (CREDENTIALS_KEY, ADMIN_API_KEY,
 * TWILIO_AUTH_TOKEN, whichever are set); null when none is.
 */
export function mediaKey(config: AppContext["config"]): Buffer | null {
  const secrets = [config.CREDENTIALS_KEY, config.ADMIN_API_KEY, config.TWILIO_AUTH_TOKEN].filter(
    (s): s is string => typeof s === "string" && s.length > 0,
  );
  if (secrets.length === 0) return null;
  return createHmac("sha256", secrets.join("\n")).update("proxystaff media url v1").digest();
}

function signature(key: Buffer, messageId: string, expiresAtMs: number): Buffer {
  return createHmac("sha256", key).update(`${messageId}.${expiresAtMs}`).digest();
}

/** `<message id>.<expiry ms>.<HMAC of both>`: names exactly one row's file until it expires. */
export function mediaToken(key: Buffer, messageId: string, expiresAtMs: number): string {
  return `${messageId}.${expiresAtMs}.${signature(key, messageId, expiresAtMs).toString("base64url")}`;
}

/** The message id a token names, when its signature matches and it has not expired; else null. */
export function verifyMediaToken(key: Buffer, token: string, nowMs: number): string | null {
  const match = /^([0-9a-f-]{36})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return null;
  const [, messageId = "", expires = "", given = ""] = match;
  const expiresAtMs = Number(expires);
  const expected = signature(key, messageId, expiresAtMs);
  const actual = Buffer.from(given, "base64url");
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return null;
  return expiresAtMs > nowMs ? messageId : null;
}

/** The public URL of row `messageId`'s file for the next hour, or null without PUBLIC_URL or a key. */
export function mediaUrl(ctx: Pick<AppContext, "config" | "clock">, messageId: string): string | null {
  const key = mediaKey(ctx.config);
  if (!ctx.config.PUBLIC_URL || !key) return null;
  return `${ctx.config.PUBLIC_URL}${MEDIA_ROUTE_PREFIX}${mediaToken(key, messageId, ctx.clock.now() + MEDIA_URL_TTL_MS)}`;
}

/** The file a claimed row sends, as the channel takes it. */
export function outboundFileOf(
  ctx: Pick<AppContext, "config" | "clock">,
  row: { id: string; channel: ChannelName },
  stored: StoredOutboundFile,
): OutboundFile {
  const url = row.channel === "whatsapp" ? mediaUrl(ctx, row.id) : null;
  return { path: spoolPath(ctx.config, row.id), ...stored, ...(url ? { url } : {}) };
}

/**
 * GET /media/:token — the bytes of exactly the outbound file the token names, with its content type;
 * 404 (same answer) for a bad, expired or unknown token, so nothing about other files leaks.
 */
export function outboundFileRoutes(ctx: AppContext): RouteModule {
  return {
    mount(app) {
      app.get(`${MEDIA_ROUTE_PREFIX}:token`, async (c) => {
        const notFound = () => c.json({ error: { code: "not_found", message: "No such file." } }, 404);
        const key = mediaKey(ctx.config);
        const messageId = key ? verifyMediaToken(key, c.req.param("token"), ctx.clock.now()) : null;
        if (!messageId) return notFound();
        const [row] = await ctx.db
          .select({ direction: schema.messages.direction, media: schema.messages.media })
          .from(schema.messages)
          .where(eq(schema.messages.id, messageId))
          .limit(1);
        const file = row?.direction === "out" ? parseOutboundFile(row.media) : null;
        if (!file) return notFound();
        let bytes: Buffer;
        try {
          bytes = readFileSync(spoolPath(ctx.config, messageId));
        } catch {
          return notFound();
        }
        ctx.log.info("outbound file fetched", { messageId, sizeBytes: bytes.byteLength });
        return c.body(new Uint8Array(bytes), 200, {
          "content-type": file.mimeType,
          "content-disposition": `inline; filename="${file.fileName.replace(/[^\w.-]/g, "_")}"`,
          "cache-control": "no-store",
        });
      });
    },
  };
}

/** Removes spooled files older than SPOOL_KEEP_MS whose row is no longer pending (sent, failed or gone). */
export async function sweepSpool(ctx: AppContext): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(spoolDir(ctx.config));
  } catch {
    return 0; // no spool yet
  }
  let removed = 0;
  for (const name of names) {
    const path = join(spoolDir(ctx.config), name);
    const info = statSync(path, { throwIfNoEntry: false });
    if (!info || ctx.clock.now() - info.mtimeMs < SPOOL_KEEP_MS) continue;
    const [row] = await ctx.db
      .select({ status: schema.messages.status })
      .from(schema.messages)
      .where(eq(schema.messages.id, name))
      .limit(1);
    if (row?.status === "pending") continue;
    unlinkSync(path);
    removed++;
  }
  return removed;
}
