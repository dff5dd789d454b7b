import { randomBytes } from "node:crypto";
import { extname } from "node:path";
import { AppError } from "../errors.ts";
import type { MediaRef, MediaSink, SavedMedia } from "./types.ts";

/** Largest media file a channel downloads (Telegram's getFile limit is 20 MB too). */
export const MAX_MEDIA_BYTES = 20 * 1024 * 1024;

/** A media file could not be fetched; the message never contains URLs or tokens. */
export class MediaFetchError extends AppError {
  override name = "MediaFetchError";
  constructor(message: string, code = "media_fetch_failed", options?: ErrorOptions) {
    super(code, message, 502, options);
  }
}

export interface DownloadOptions {
  /** Default MAX_MEDIA_BYTES. */
  maxBytes?: number;
  /** Extra request options (e.g. basic auth headers). */
  init?: RequestInit;
  /** A path or file name whose extension hints the file type (Telegram's file_path). */
  nameHint?: string;
  fetch?: typeof fetch;
}

/** Downloads a file and hands it to `save` under a generated safe name, refusing anything over the size limit. */
export async function downloadMedia(url: string, ref: MediaRef, save: MediaSink, options: DownloadOptions = {}): Promise<SavedMedia> {
  const maxBytes = options.maxBytes ?? MAX_MEDIA_BYTES;
  if (ref.sizeBytes !== undefined && ref.sizeBytes > maxBytes) throw tooLarge(ref.sizeBytes, maxBytes);
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, { ...options.init, redirect: "follow" });
  } catch (err) {
    throw new MediaFetchError(`the ${ref.kind} could not be downloaded (network error)`, "media_fetch_failed", { cause: err });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new MediaFetchError(`the ${ref.kind} could not be downloaded (HTTP ${response.status})`);
  }
  const declared = Number(response.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge(declared, maxBytes);
  }
  const bytes = await readLimited(response, maxBytes);
  const mimeType = ref.mimeType ?? response.headers.get("content-type")?.split(";")[0]?.trim() ?? undefined;
  const path = save(safeMediaName(ref, mimeType, options.nameHint), bytes);
  return { kind: ref.kind, path, ...(mimeType ? { mimeType } : {}), sizeBytes: bytes.byteLength };
}

async function readLimited(response: Response, maxBytes: number): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(total, maxBytes);
    }
    parts.push(value);
  }
  return Buffer.concat(parts);
}

function tooLarge(size: number, maxBytes: number): MediaFetchError {
  return new MediaFetchError(`the file is too large (${size} bytes; the limit is ${maxBytes})`, "media_too_large");
}

const EXTENSIONS: Record<string, string> = {
  "image/jpeg": ".jpg",
  "image/png": ".png",
  "image/gif": ".gif",
  "image/webp": ".webp",
  "image/heic": ".heic",
  "application/pdf": ".pdf",
  "text/plain": ".txt",
  "text/csv": ".csv",
  "text/vcard": ".vcf",
  "audio/ogg": ".ogg",
  "audio/mpeg": ".mp3",
  "audio/mp4": ".m4a",
  "audio/amr": ".amr",
  "video/mp4": ".mp4",
  "video/3gpp": ".3gp",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
  "application/msword": ".doc",
  "application/vnd.ms-excel": ".xls",
  "application/zip": ".zip",
};

const KIND_EXTENSIONS: Record<MediaRef["kind"], string> = {
  photo: ".jpg",
  voice: ".ogg",
  video: ".mp4",
  audio: ".mp3",
  document: ".bin",
  other: ".bin",
};

/** `20261126-083000-photo-invoice-3fa9c2.jpg`: time, kind, a cleaned original name, random suffix, extension. */
export function safeMediaName(ref: MediaRef, mimeType: string | undefined, nameHint?: string, now = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  const original = ref.fileName ?? "";
  const base = original
    .replace(/\.[^.]*$/, "")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  const extension = cleanExtension(extname(original)) ?? cleanExtension(extname(nameHint ?? "")) ?? (mimeType ? EXTENSIONS[mimeType] : undefined) ?? KIND_EXTENSIONS[ref.kind];
  return [stamp, ref.kind, base, randomBytes(3).toString("hex")].filter(Boolean).join("-") + extension;
}

function cleanExtension(ext: string): string | undefined {
  return /^\.[A-Za-z0-9]{1,8}$/.test(ext) ? ext.toLowerCase() : undefined;
}
