/**
 * A loopback fake of the Anthropic Messages API, good enough for the real Claude Code CLI
 * (`@anthropic-ai/claude-code` 2.1.332) to run against it offline.
 *
 * What the real CLI sends (observed with `claude -p … --output-format json`):
 * - `POST /v1/messages?beta=true` with `"stream": true` and headers `x-api-key` (or
 *   `authorization: Bearer` for OAuth), `anthropic-version`, `anthropic-beta`, `user-agent:
 *   claude-cli/<version>`, `x-claude-code-session-id: <session uuid>`. The body has `model`
 *   (e.g. `claude-opus-5-5`), `system` (array of text blocks), `tools` (Bash, Read, Write, Edit,
 *   ToolSearch, …, plus `mcp__<server>__<tool>` when MCP tools are listed directly), and
 *   `messages`. The first user message starts with `<system-reminder>` text blocks; the
 *   prompt is the last text block. The array may also hold a `{"role":"system"}` entry (environment).
 * - A `-p` run (2.1.332) sends no title or summary request and no token counting, with or without
 *   `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`; without that flag it adds one `HEAD /api/hello`
 *   (any HEAD/GET is answered 200 here). `POST /v1/messages/count_tokens` is answered `{"input_tokens": N}` in case
 *   a version uses it. Requests made with a small model (`haiku` in the name, no `tools`) are "side
 *   requests" (titles, summaries): they get a short text and never consume the scripted queue.
 * - After a `tool_use` answer the CLI runs the tool and sends the whole history again, the last
 *   user message holding a `tool_result` block. Unless the script says otherwise, the fake then
 *   ends the turn with text: the tool_result content itself (so tests can read tool output in the
 *   CLI's `result`). That keeps the CLI from looping.
 *
 * Scripting: `enqueue(...replies)` queues replies for main requests, `setHandler(fn)` answers
 * computed ones (return `undefined` to fall through to the queue and then the defaults).
 * Every request is recorded in `requests` (parsed body, raw text, headers) so tests can assert
 * history was resumed or that a secret never reached the API.
 */
import { serveLoopback } from "./loopback.ts";

/** The usage an answer reports (message_start: input and cache tokens; message_delta: output tokens). */
export interface FakeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** What an answer reports when its script names no usage. */
export const DEFAULT_FAKE_USAGE = {
  input_tokens: 10,
  output_tokens: 5,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
} as const;

/** One scripted answer of the fake; `usage` and `model` change what its stream reports (default DEFAULT_FAKE_USAGE, the request's model). */
export type FakeReply =
  | { type: "text"; text: string; usage?: FakeUsage; model?: string }
  | {
      type: "tool_use";
      usage?: FakeUsage;
      model?: string;
      name: string;
      input: Record<string, unknown>;
      id?: string;
      text?: string;
      /** Answer to the CLI's tool_result for this call. Default: end the turn echoing the tool output. */
      after?: FakeReply;
    }
  | { type: "error"; status: number; body: unknown }
  | { type: "hang" }
  | { type: "delay"; ms: number; then: FakeReply };

/** A request as the fake saw it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Raw body text ("" for HEAD/GET). */
  raw: string;
  /** Parsed JSON body of a POST (undefined otherwise). */
  body?: MessagesBody;
  /** True for a title/summary/count request that does not consume the scripted queue. */
  side: boolean;
}

export interface MessagesBody {
  model?: string;
  stream?: boolean;
  system?: unknown;
  tools?: { name: string }[];
  messages?: { role: string; content: string | ContentBlock[] }[];
}

export interface ContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | { type: string; text?: string }[];
  is_error?: boolean;
}

export type FakeHandler = (request: RecordedRequest) => FakeReply | undefined | Promise<FakeReply | undefined>;

export interface FakeAnthropicOptions {
  /** Answer for main requests when neither handler nor queue has one. Default text "ok". */
  defaultReply?: FakeReply;
  handler?: FakeHandler;
}

export interface FakeAnthropic {
  /** Base URL for ANTHROPIC_BASE_URL, e.g. http://127.0.0.1:12345 */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Main (non-side) POST /v1/messages requests only. */
  messageRequests(): RecordedRequest[];
  setHandler(handler: FakeHandler | undefined): void;
  enqueue(...replies: FakeReply[]): void;
  /** Clears recorded requests and the queue. */
  reset(): void;
  stop(): Promise<void>;
}

/** The exact error body the real API sends when the account has no credit left. */
export const CREDIT_TOO_LOW_ERROR: FakeReply = {
  type: "error",
  status: 400,
  body: {
    type: "error",
    error: {
      type: "invalid_request_error",
      message:
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
    },
  },
};

/** Starts the fake on 127.0.0.1, port 0. */
export function startFakeAnthropic(options: FakeAnthropicOptions = {}): FakeAnthropic {
  const requests: RecordedRequest[] = [];
  const queue: FakeReply[] = [];
  let handler = options.handler;
  const defaultReply = options.defaultReply ?? { type: "text", text: "ok" };
  let toolCounter = 0;
  const pendingAfter = new Map<string, FakeReply>();
  const nextToolId = () => `toolu_fake_${++toolCounter}`;

  const loopback = serveLoopback(async (req) => {
    const url = new URL(req.url);
    const raw = req.method === "POST" ? await req.text() : "";
    const body = parseBody(raw);
    const isCount = url.pathname.endsWith("/count_tokens");
    const recorded: RecordedRequest = {
      method: req.method,
      path: url.pathname + url.search,
      headers: Object.fromEntries(req.headers),
      raw,
      body,
      side: isCount || isSideRequest(body),
    };
    requests.push(recorded);
    if (req.method === "HEAD" || req.method === "GET") return new Response(null, { status: 200 });
    if (isCount) return Response.json({ input_tokens: Math.ceil(raw.length / 4) });
    if (req.method !== "POST" || !url.pathname.endsWith("/v1/messages") || !body) {
      return Response.json(
        { type: "error", error: { type: "not_found_error", message: "not found" } },
        { status: 404 },
      );
    }
    if (recorded.side) return sseResponse(body.model ?? "fake", { type: "text", text: "Side answer" });
    const reply = (await handler?.(recorded)) ?? defaultFor(body) ?? queue.shift() ?? defaultReply;
    return respond(reply, body.model ?? "fake");
  });

  function defaultFor(body: MessagesBody): FakeReply | undefined {
    // A tool step never consumes the queue (that belongs to the next run): its tool_use's `after`, else echo.
    const result = lastToolResultBlock(body);
    if (!result) return undefined;
    const after = result.tool_use_id ? pendingAfter.get(result.tool_use_id) : undefined;
    if (result.tool_use_id) pendingAfter.delete(result.tool_use_id);
    return after ?? { type: "text", text: toolResultText(result) };
  }

  async function respond(reply: FakeReply, model: string): Promise<Response> {
    switch (reply.type) {
      case "delay":
        await Bun.sleep(reply.ms);
        return respond(reply.then, model);
      case "hang":
        // Never answers until stop(): the caller's time limit is what ends this.
        await new Promise<void>((resolveHang) => loopback.hanging.add(resolveHang));
        return new Response("", { status: 503 });
      case "error":
        return Response.json(reply.body, { status: reply.status, headers: { "request-id": "req_fake" } });
      case "tool_use": {
        const id = reply.id ?? nextToolId();
        if (reply.after) pendingAfter.set(id, reply.after);
        return sseResponse(model, { ...reply, id });
      }
      default:
        return sseResponse(model, reply);
    }
  }

  return {
    url: loopback.url,
    port: loopback.port,
    requests,
    messageRequests: () => requests.filter((r) => r.method === "POST" && !r.side && r.body !== undefined),
    setHandler: (next) => {
      handler = next;
    },
    enqueue: (...replies) => {
      queue.push(...replies);
    },
    reset: () => {
      requests.length = 0;
      queue.length = 0;
    },
    stop: () => loopback.stop(),
  };
}

/** Environment for running the real CLI against the fake, with its own HOME and config dir. */
export function cliEnv(fake: { url: string }, home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_API_KEY: "sk-ant-fake-key",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ENABLE_TOOL_SEARCH: "false",
    DISABLE_AUTOUPDATER: "1",
  };
}

/** Text of every user message block (prompt and tool results), history included. */
export function userTexts(body: MessagesBody | undefined): string[] {
  const out: string[] = [];
  for (const message of body?.messages ?? []) {
    if (message.role !== "user") continue;
    const blocks = typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
    for (const block of blocks) {
      if (block.type === "text" && block.text && !block.text.startsWith("<system-reminder>")) out.push(block.text);
      if (block.type === "tool_result") out.push(toolResultText(block));
    }
  }
  return out;
}

/** The prompt text of the last user message (tool results and system reminders excluded). */
export function lastPrompt(body: MessagesBody | undefined): string | undefined {
  const messages = body?.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role !== "user") continue;
    const blocks = typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
    const texts = blocks.filter((b) => b.type === "text" && b.text && !b.text.startsWith("<system-reminder>"));
    if (texts.length > 0) return texts.map((b) => b.text).join("\n");
  }
  return undefined;
}

/** The content of the tool_result in the last user message, if that message carries one. */
export function lastToolResult(body: MessagesBody | undefined): string | undefined {
  const block = lastToolResultBlock(body);
  return block ? toolResultText(block) : undefined;
}

function lastToolResultBlock(body: MessagesBody | undefined): ContentBlock | undefined {
  const last = body?.messages?.filter((m) => m.role === "user").at(-1);
  if (!last || typeof last.content === "string") return undefined;
  return last.content.find((b) => b.type === "tool_result");
}

function toolResultText(block: ContentBlock): string {
  if (typeof block.content === "string") return block.content;
  return (block.content ?? []).map((c) => c.text ?? "").join("\n");
}

function parseBody(raw: string): MessagesBody | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as MessagesBody;
  } catch {
    return undefined;
  }
}

function isSideRequest(body: MessagesBody | undefined): boolean {
  if (!body?.model) return false;
  return /haiku/i.test(body.model) && (body.tools?.length ?? 0) === 0;
}

function sseResponse(requestModel: string, reply: FakeReply): Response {
  const scripted = reply.type === "text" || reply.type === "tool_use" ? reply : undefined;
  const model = scripted?.model ?? requestModel;
  const usage = { ...DEFAULT_FAKE_USAGE, ...scripted?.usage };
  const blocks: Record<string, unknown>[] = [];
  let stopReason = "end_turn";
  if (reply.type === "text") blocks.push({ type: "text", text: reply.text });
  if (reply.type === "tool_use") {
    if (reply.text) blocks.push({ type: "text", text: reply.text });
    blocks.push({ type: "tool_use", id: reply.id, name: reply.name, input: reply.input });
    stopReason = "tool_use";
  }
  const events: string[] = [];
  const emit = (event: string, data: Record<string, unknown>) =>
    events.push(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  emit("message_start", {
    message: {
      id: `msg_fake_${Date.now()}`,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: usage.input_tokens,
        output_tokens: 1,
        cache_creation_input_tokens: usage.cache_creation_input_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens,
      },
    },
  });
  blocks.forEach((block, index) => {
    if (block.type === "text") {
      emit("content_block_start", { index, content_block: { type: "text", text: "" } });
      emit("content_block_delta", { index, delta: { type: "text_delta", text: block.text } });
    } else {
      emit("content_block_start", { index, content_block: { ...block, input: {} } });
      emit("content_block_delta", {
        index,
        delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) },
      });
    }
    emit("content_block_stop", { index });
  });
  emit("message_delta", {
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  emit("message_stop", {});
  return new Response(events.join(""), {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}
