/**
 * A loopback fake of the Telegram Bot API (127.0.0.1, port 0) for tests and local runs.
 * Serves `${url}/bot<token>/<method>` and `${url}/file/bot<token>/<path>`; records what the bot sent;
 * long-polls getUpdates over updates the test pushes; fails the next calls of a method on request.
 */
import { serveLoopback } from "./loopback.ts";

/** What a failure looks like: a Bot API error answer, or no answer at all ("hang"). */
export type FakeTelegramFailure = "429" | "500" | "403" | "400" | "hang";

export interface FakeTelegramCall {
  method: string;
  params: Record<string, unknown>;
}

/** One sendMessage the bot made (successful ones only). */
export interface FakeTelegramSent {
  chat_id: string;
  text: string;
  message_id: number;
  params: Record<string, unknown>;
}

/** One sendPhoto / sendDocument the bot made (successful ones only), with the uploaded bytes. */
export interface FakeTelegramSentFile {
  method: "sendPhoto" | "sendDocument";
  chat_id: string;
  caption: string;
  message_id: number;
  fileName: string;
  bytes: Uint8Array;
}

/** A file part of a multipart request. */
interface Upload {
  field: string;
  name: string;
  bytes: Uint8Array;
}

export interface FakeTelegramFile {
  file_id: string;
  file_unique_id: string;
  file_path: string;
  file_size: number;
}

export interface FakeTelegram {
  /** Base URL to use as TELEGRAM_API_ROOT. */
  url: string;
  token: string;
  /** Successful sendMessage calls, in order. */
  sent: FakeTelegramSent[];
  /** Successful sendPhoto / sendDocument calls (multipart uploads), in order. */
  sentFiles: FakeTelegramSentFile[];
  /** Every API call, in order (including failed ones). */
  calls: FakeTelegramCall[];
  /** Update ids handed out by getUpdates, in order (repeats show up twice). */
  served: number[];
  /** The last setWebhook parameters (null after deleteWebhook). */
  readonly webhook: Record<string, unknown> | null;
  /** Queues an update for getUpdates; assigns update_id when missing; returns the full update. */
  pushUpdate(update: FakeUpdateInput): Record<string, unknown> & { update_id: number };
  /** Makes the next n calls of method fail this way (retry_after in seconds for 429, default 1). */
  failNext(method: string, kind: FakeTelegramFailure, n?: number, options?: { retryAfterS?: number }): void;
  /** Stores a downloadable file; getFile answers with its path. */
  addFile(content: Uint8Array | string, filePath?: string): FakeTelegramFile;
  stop(): Promise<void>;
}

export type FakeUpdateInput = Record<string, unknown> & { update_id?: number };

export const FAKE_BOT_TOKEN = "123456:TEST-fake_bot_token";

export function startFakeTelegram(options: { token?: string } = {}): FakeTelegram {
  const token = options.token ?? FAKE_BOT_TOKEN;
  const sent: FakeTelegramSent[] = [];
  const sentFiles: FakeTelegramSentFile[] = [];
  const calls: FakeTelegramCall[] = [];
  const served: number[] = [];
  const failures = new Map<string, { kind: FakeTelegramFailure; retryAfterS: number }[]>();
  const files = new Map<string, { file: FakeTelegramFile; content: Uint8Array }>();
  const queue: (Record<string, unknown> & { update_id: number })[] = [];
  const waiters = new Set<() => void>();
  let nextUpdateId = 500_000;
  let nextMessageId = 1;
  let fileCounter = 0;

  const notify = () => {
    for (const w of [...waiters]) w();
  };

  const ok = (result: unknown) => Response.json({ ok: true, result });
  const fail = (code: number, description: string, parameters?: Record<string, unknown>) =>
    Response.json(
      { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) },
      { status: code },
    );

  async function getUpdates(params: Record<string, unknown>, signal: AbortSignal): Promise<Response> {
    const offset = Number(params.offset ?? 0);
    if (offset > 0) while (queue.length > 0 && (queue[0]?.update_id ?? 0) < offset) queue.shift();
    const timeoutS = Number(params.timeout ?? 0);
    const limit = Number(params.limit ?? 100);
    if (queue.length === 0 && timeoutS > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, timeoutS * 1000);
        waiters.add(done);
        signal.addEventListener("abort", done);
      });
    }
    const batch = queue.slice(0, limit);
    served.push(...batch.map((u) => u.update_id));
    return ok(batch);
  }

  async function handleMethod(
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
    uploads: Upload[] = [],
  ): Promise<Response> {
    calls.push({ method, params });
    const queued = failures.get(method);
    const failure = queued?.shift();
    if (failure) {
      if (failure.kind === "hang") {
        await new Promise<void>((resolve) => {
          loopback.hanging.add(resolve);
          signal.addEventListener("abort", () => resolve());
        });
        return fail(500, "Internal Server Error: the fake was stopped");
      }
      if (failure.kind === "429")
        return fail(429, `Too Many Requests: retry after ${failure.retryAfterS}`, { retry_after: failure.retryAfterS });
      if (failure.kind === "500") return fail(500, "Internal Server Error");
      if (failure.kind === "403") return fail(403, "Forbidden: bot was blocked by the user");
      return fail(400, "Bad Request: chat not found");
    }
    switch (method) {
      case "getMe":
        return ok({
          id: Number(token.split(":")[0]),
          is_bot: true,
          first_name: "Fake Bot",
          username: "fake_proxystaff_bot",
          can_join_groups: false,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
        });
      case "setWebhook":
        return ok(true);
      case "deleteWebhook":
        return ok(true);
      case "getWebhookInfo":
        return ok({ url: "", has_custom_certificate: false, pending_update_count: queue.length });
      case "getUpdates":
        return getUpdates(params, signal);
      case "sendChatAction":
        return ok(true);
      case "sendMessage": {
        const message_id = nextMessageId++;
        sent.push({ chat_id: String(params.chat_id), text: String(params.text ?? ""), message_id, params });
        return ok({
          message_id,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(params.chat_id), type: "private" },
          text: params.text,
        });
      }
      case "sendPhoto":
      case "sendDocument": {
        const upload = uploads[0];
        if (!upload) return fail(400, "Bad Request: there is no file in the request");
        const message_id = nextMessageId++;
        sentFiles.push({
          method,
          chat_id: String(params.chat_id),
          caption: String(params.caption ?? ""),
          message_id,
          fileName: upload.name,
          bytes: upload.bytes,
        });
        return ok({
          message_id,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(params.chat_id), type: "private" },
        });
      }
      case "getFile": {
        const entry = files.get(String(params.file_id));
        return entry ? ok(entry.file) : fail(400, "Bad Request: invalid file_id");
      }
      default:
        return fail(404, `Not Found: method ${method} is not faked`);
    }
  }

  const loopback = serveLoopback(async (req) => {
    const url = new URL(req.url);
    const filePrefix = `/file/bot${token}/`;
    if (req.method === "GET" && url.pathname.startsWith(filePrefix)) {
      const path = decodeURIComponent(url.pathname.slice(filePrefix.length));
      const entry = [...files.values()].find((f) => f.file.file_path === path);
      return entry ? new Response(entry.content) : new Response("not found", { status: 404 });
    }
    const match = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
    if (!match) return new Response("not found", { status: 404 });
    if (match[1] !== token) return fail(401, "Unauthorized");
    const uploads: Upload[] = [];
    return handleMethod(match[2] ?? "", await readParams(req, url, uploads), req.signal, uploads);
  });

  const fake: FakeTelegram = {
    url: loopback.url,
    token,
    sent,
    sentFiles,
    calls,
    served,
    /** Derived from the calls: the last setWebhook, unless a deleteWebhook came after it. */
    get webhook() {
      for (let i = calls.length - 1; i >= 0; i--) {
        const call = calls[i];
        if (call?.method === "setWebhook") return call.params;
        if (call?.method === "deleteWebhook") return null;
      }
      return null;
    },
    pushUpdate(update) {
      const full = { ...update, update_id: update.update_id ?? nextUpdateId++ };
      queue.push(full);
      notify();
      return full;
    },
    failNext(method, kind, n = 1, opts = {}) {
      const list = failures.get(method) ?? [];
      for (let i = 0; i < n; i++) list.push({ kind, retryAfterS: opts.retryAfterS ?? 1 });
      failures.set(method, list);
    },
    addFile(content, filePath) {
      fileCounter++;
      const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
      const file: FakeTelegramFile = {
        file_id: `FILE${fileCounter}xyz`,
        file_unique_id: `U${fileCounter}`,
        file_path: filePath ?? `documents/file_${fileCounter}.bin`,
        file_size: bytes.byteLength,
      };
      files.set(file.file_id, { file, content: bytes });
      return file;
    },
    async stop() {
      for (const w of [...waiters]) w();
      await loopback.stop();
    },
  };
  return fake;
}

async function readParams(req: Request, url: URL, uploads: Upload[] = []): Promise<Record<string, unknown>> {
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
  if (req.method !== "POST") return params;
  const type = req.headers.get("content-type") ?? "";
  if (type.includes("application/json")) Object.assign(params, (await req.json()) as Record<string, unknown>);
  else if (type.includes("form")) {
    const form = await req.formData();
    for (const [key, value] of form.entries()) {
      if (typeof value === "string") params[key] = value;
      else {
        params[key] = "[file]";
        uploads.push({ field: key, name: value.name, bytes: new Uint8Array(await value.arrayBuffer()) });
      }
    }
  }
  return params;
}

// ---- update builders ----

interface ChatInput {
  chatId: number;
  firstName?: string;
  lastName?: string;
  username?: string;
  /** Unix seconds. Default: now. */
  date?: number;
}

function baseMessage(input: ChatInput): Record<string, unknown> {
  const from = {
    id: input.chatId,
    is_bot: false,
    first_name: input.firstName ?? "Ada",
    ...(input.lastName ? { last_name: input.lastName } : {}),
    ...(input.username ? { username: input.username } : {}),
  };
  return {
    message_id: Math.floor(Math.random() * 1e6),
    date: input.date ?? Math.floor(Date.now() / 1000),
    chat: { id: input.chatId, type: "private", first_name: from.first_name },
    from,
  };
}

/** A private-chat text message update (no update_id: pushUpdate or the caller assigns it). */
export function textUpdate(input: ChatInput & { text: string; updateId?: number }): FakeUpdateInput {
  return {
    ...(input.updateId ? { update_id: input.updateId } : {}),
    message: { ...baseMessage(input), text: input.text },
  };
}

/**
 * A shared contact card. `userId` is whose card it is: the sender's own id when they tapped "share my
 * phone number", another id for a forwarded card, absent for someone not on Telegram. Telegram may
 * send the number without "+".
 */
export function contactUpdate(
  input: ChatInput & { phoneNumber: string; userId?: number; updateId?: number },
): FakeUpdateInput {
  const contact = {
    phone_number: input.phoneNumber,
    first_name: input.firstName ?? "Ada",
    ...(input.userId !== undefined ? { user_id: input.userId } : {}),
  };
  return { ...(input.updateId ? { update_id: input.updateId } : {}), message: { ...baseMessage(input), contact } };
}

/** A photo message; sizes are listed smallest first like Telegram does (the last is the largest). */
export function photoUpdate(
  input: ChatInput & { fileId: string; caption?: string; fileSize?: number; updateId?: number },
): FakeUpdateInput {
  const photo = [
    { file_id: `${input.fileId}-small`, file_unique_id: "s", width: 90, height: 90, file_size: 1000 },
    { file_id: input.fileId, file_unique_id: "l", width: 1280, height: 960, file_size: input.fileSize ?? 50_000 },
  ];
  return {
    ...(input.updateId ? { update_id: input.updateId } : {}),
    message: { ...baseMessage(input), photo, ...(input.caption ? { caption: input.caption } : {}) },
  };
}

export function documentUpdate(
  input: ChatInput & {
    fileId: string;
    fileName?: string;
    mimeType?: string;
    caption?: string;
    fileSize?: number;
    updateId?: number;
  },
): FakeUpdateInput {
  const document = {
    file_id: input.fileId,
    file_unique_id: "d",
    file_name: input.fileName ?? "report.pdf",
    mime_type: input.mimeType ?? "application/pdf",
    file_size: input.fileSize ?? 1234,
  };
  return {
    ...(input.updateId ? { update_id: input.updateId } : {}),
    message: { ...baseMessage(input), document, ...(input.caption ? { caption: input.caption } : {}) },
  };
}

export function voiceUpdate(
  input: ChatInput & { fileId: string; duration?: number; fileSize?: number; updateId?: number },
): FakeUpdateInput {
  const voice = {
    file_id: input.fileId,
    file_unique_id: "v",
    duration: input.duration ?? 3,
    mime_type: "audio/ogg",
    file_size: input.fileSize ?? 4321,
  };
  return { ...(input.updateId ? { update_id: input.updateId } : {}), message: { ...baseMessage(input), voice } };
}

/** The header Telegram sends with each webhook delivery. */
export const TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token";

/** Builds the request Telegram would POST to a webhook (secret omitted when undefined). */
export function telegramWebhookRequest(
  url: string,
  update: FakeUpdateInput & { update_id: number },
  secret?: string,
): Request {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret !== undefined) headers[TELEGRAM_SECRET_HEADER] = secret;
  return new Request(url, { method: "POST", headers, body: JSON.stringify(update) });
}

/** POSTs an update to a running server's webhook like Telegram does. */
export function postTelegramWebhook(
  baseUrl: string,
  update: FakeUpdateInput & { update_id: number },
  secret?: string,
): Promise<Response> {
  return fetch(telegramWebhookRequest(`${baseUrl}/webhooks/telegram`, update, secret));
}
