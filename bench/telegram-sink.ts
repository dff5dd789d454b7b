// A minimal loopback Telegram Bot API for benchmarks and fault tests: records every sendMessage with its
// wall-clock arrival time, and can answer with faults chosen by the caller (429, 500, 403, a slow gateway timeout).
import type { Server } from "bun";
import { wallNowMs } from "./stand-in.ts";

export const SINK_BOT_TOKEN = "424242:BENCH-sink_bot_token_0123456789";

/** One sendMessage that was answered ok. */
export interface SinkMessage {
  chatId: string;
  text: string;
  /** Wall-clock ms when the request arrived. */
  atMs: number;
}

/** What to do with one sendMessage: answer it, or fail it this way. */
export type SinkFault = "ok" | "429" | "500" | "403" | "timeout";

export interface TelegramSink {
  /** TELEGRAM_API_ROOT for the server. */
  url: string;
  token: string;
  /** Successful sendMessage calls, in arrival order. */
  sent: SinkMessage[];
  /** Every sendMessage attempt by outcome. */
  attempts: Record<SinkFault, number>;
  /** Decides each sendMessage's fate (default: always ok). */
  setFaults(decide: (chatId: string) => SinkFault): void;
  /** Called on every successful sendMessage (after it was recorded). */
  onSent?: (message: SinkMessage) => void;
  stop(): Promise<void>;
}

/** Starts the sink on 127.0.0.1 with a port of its own. */
export function startTelegramSink(token = SINK_BOT_TOKEN): TelegramSink {
  const sent: SinkMessage[] = [];
  const attempts: Record<SinkFault, number> = { ok: 0, "429": 0, "500": 0, "403": 0, timeout: 0 };
  let decide: (chatId: string) => SinkFault = () => "ok";
  const ok = (result: unknown) => Response.json({ ok: true, result });
  const fail = (code: number, description: string, parameters?: Record<string, unknown>) =>
    Response.json(
      { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) },
      { status: code },
    );
  let messageId = 1;

  const server: Server<unknown> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 30,
    async fetch(req) {
      const atMs = wallNowMs();
      const match = /^\/bot([^/]+)\/(\w+)$/.exec(new URL(req.url).pathname);
      if (!match || match[1] !== token) return fail(401, "Unauthorized");
      const method = match[2];
      const params = req.method === "POST" ? await readParams(req) : {};
      if (method === "getMe")
        return ok({
          id: 424242,
          is_bot: true,
          first_name: "Sink",
          username: "sink_bot",
          can_join_groups: false,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
        });
      if (method !== "sendMessage") return ok(true);
      const chatId = String(params.chat_id);
      const fate = decide(chatId);
      attempts[fate]++;
      switch (fate) {
        case "429":
          return fail(429, "Too Many Requests: retry after 1", { retry_after: 1 });
        case "500":
          return fail(500, "Internal Server Error");
        case "403":
          return fail(403, "Forbidden: bot was blocked by the user");
        case "timeout":
          // No answer for a while, then a gateway timeout (what a proxy in front of a stuck API sends).
          await Bun.sleep(1500);
          return fail(504, "Gateway Timeout");
        case "ok": {
          const message = { chatId, text: String(params.text ?? ""), atMs };
          sent.push(message);
          sink.onSent?.(message);
          return ok({
            message_id: messageId++,
            date: Math.floor(Date.now() / 1000),
            chat: { id: Number(chatId), type: "private" },
            text: message.text,
          });
        }
      }
    },
  });
  const sink: TelegramSink = {
    url: `http://127.0.0.1:${server.port}`,
    token,
    sent,
    attempts,
    setFaults(fn) {
      decide = fn;
    },
    async stop() {
      await server.stop(true);
    },
  };
  return sink;
}

async function readParams(req: Request): Promise<Record<string, unknown>> {
  const type = req.headers.get("content-type") ?? "";
  if (type.includes("application/json")) return (await req.json()) as Record<string, unknown>;
  if (type.includes("form")) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of (await req.formData()).entries()) out[k] = typeof v === "string" ? v : "[file]";
    return out;
  }
  return {};
}
