import { randomBytes } from "node:crypto";
import { extname } from "node:path";
import { AppError } from "../errors.ts";
import type { MediaRef, MediaSink, SavedMedia } from "./types.ts";

/** Largest media file a channel downloads (Telegram's getFile limit is 20 MB too). */
export const MAX_MEDIA_BYTES = 20 * 1024 * 1024;
/** Longest wait for a media server's response headers (connect, TLS and first byte). */
export const MEDIA_HEADERS_TIMEOUT_MS = 10_000;
/** Longest a whole media download may take, body included: a stalled or trickling body ends here. */
export const MEDIA_TOTAL_TIMEOUT_MS = 60_000;

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
  /** Abort when no response headers arrived within this long. Default MEDIA_HEADERS_TIMEOUT_MS. */
  headersTimeoutMs?: number;
  /** Abort when the download (headers and body) is not done within this long. Default MEDIA_TOTAL_TIMEOUT_MS. */
  totalTimeoutMs?: number;
}

/**
 * Downloads a file and hands it to `save` under a generated safe name, refusing anything over the size limit
 * (declared or streamed) and giving up when the headers or the whole download take too long (MediaFetchError
 * `media_timeout`): the file server is the sender's to choose, and a download holds the tenant's lease and an agent slot.
 */
export async function downloadMedia(
  url: string,
  ref: MediaRef,
  save: MediaSink,
  options: DownloadOptions = {},
): Promise<SavedMedia> {
  const maxBytes = options.maxBytes ?? MAX_MEDIA_BYTES;
  if (ref.sizeBytes !== undefined && ref.sizeBytes > maxBytes) throw tooLarge(ref.sizeBytes, maxBytes);
  const headersTimeoutMs = options.headersTimeoutMs ?? MEDIA_HEADERS_TIMEOUT_MS;
  const totalTimeoutMs = options.totalTimeoutMs ?? MEDIA_TOTAL_TIMEOUT_MS;
  const deadline = new Deadline();
  const total = setTimeout(
    () => deadline.expire(`the ${ref.kind} could not be downloaded (not done within ${seconds(totalTimeoutMs)})`),
    totalTimeoutMs,
  );
  const headers = setTimeout(
    () => deadline.expire(`the ${ref.kind} could not be downloaded (no answer within ${seconds(headersTimeoutMs)})`),
    headersTimeoutMs,
  );
  try {
    let response: Response;
    try {
      response = await deadline.race(
        (options.fetch ?? fetch)(url, { ...options.init, redirect: "follow", signal: deadline.signal }),
      );
    } catch (err) {
      if (err instanceof MediaFetchError) throw err;
      throw new MediaFetchError(`the ${ref.kind} could not be downloaded (network error)`, "media_fetch_failed", {
        cause: err,
      });
    } finally {
      clearTimeout(headers);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined); // the status is the error; the body is not needed
      throw new MediaFetchError(`the ${ref.kind} could not be downloaded (HTTP ${response.status})`);
    }
    const declared = Number(response.headers.get("content-length") ?? "NaN");
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge(declared, maxBytes);
    }
    const bytes = await readLimited(response, maxBytes, deadline, ref.kind);
    const mimeType = ref.mimeType ?? response.headers.get("content-type")?.split(";")[0]?.trim() ?? undefined;
    const path = save(safeMediaName(ref, mimeType, options.nameHint), bytes);
    return { kind: ref.kind, path, ...(mimeType ? { mimeType } : {}), sizeBytes: bytes.byteLength };
  } finally {
    clearTimeout(total);
    clearTimeout(headers);
  }
}

/**
 * Aborts the request and settles every raced step at once with the timeout's MediaFetchError, whether or not the
 * runtime's body reader notices the abort signal.
 */
class Deadline {
  private readonly controller = new AbortController();
  private expired: MediaFetchError | undefined;
  private readonly waiters = new Set<(err: MediaFetchError) => void>();
  readonly signal = this.controller.signal;

  expire(message: string): void {
    if (this.expired) return;
    this.expired = new MediaFetchError(message, "media_timeout");
    this.controller.abort(this.expired);
    for (const reject of this.waiters) reject(this.expired);
    this.waiters.clear();
  }

  async race<T>(step: Promise<T>): Promise<T> {
    if (this.expired) throw this.expired;
    let reject: ((err: MediaFetchError) => void) | undefined;
    const expiry = new Promise<never>((_, r) => {
      reject = r;
      this.waiters.add(r);
    });
    try {
      return await Promise.race([step, expiry]);
    } catch (err) {
      throw this.expired ?? err;
    } finally {
      if (reject) this.waiters.delete(reject);
    }
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

async function readLimited(
  response: Response,
  maxBytes: number,
  deadline: Deadline,
  kind: MediaRef["kind"],
): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await deadline.race(reader.read());
      } catch (err) {
        if (err instanceof MediaFetchError) throw err;
        throw new MediaFetchError(`the ${kind} could not be downloaded (the connection broke)`, "media_fetch_failed", {
          cause: err,
        });
      }
      if (chunk.done) break;
      total += chunk.value.byteLength;
      if (total > maxBytes) throw tooLarge(total, maxBytes);
      parts.push(chunk.value);
    }
  } catch (err) {
    await reader.cancel().catch(() => undefined); // the download has failed already; cancelling only frees the socket
    throw err;
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
export function safeMediaName(
  ref: MediaRef,
  mimeType: string | undefined,
  nameHint?: string,
  now = new Date(),
): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  const original = ref.fileName ?? "";
  const base = original
    .replace(/\.[^.]*$/, "")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  const extension =
    cleanExtension(extname(original)) ??
    cleanExtension(extname(nameHint ?? "")) ??
    (mimeType ? EXTENSIONS[mimeType] : undefined) ??
    KIND_EXTENSIONS[ref.kind];
  return [stamp, ref.kind, base, randomBytes(3).toString("hex")].filter(Boolean).join("-") + extension;
}

function cleanExtension(ext: string): string | undefined {
  return /^\.[A-Za-z0-9]{1,8}$/.test(ext) ? ext.toLowerCase() : undefined;
}
