import type { TokenCounts } from "./prices.ts";

/** What a model answer said about itself: its model and tokens (null fields: not reported). */
export interface UsageReading extends TokenCounts {
  model: string | null;
  /** True when the answer carried a `usage` object at all. */
  hasUsage: boolean;
  /** An error answer's `error.message` (the API's own text, cut to 300 characters), else null. */
  errorMessage: string | null;
}

/** Longest SSE line kept for parsing: message_start/message_delta lines are small; text deltas may be long and are skipped. */
export const MAX_METERED_LINE_BYTES = 64 * 1024;
/** A JSON answer is parsed whole up to this size; past it only its head and tail are kept (model first, usage last). */
export const MAX_METERED_JSON_BYTES = 1024 * 1024;
const JSON_EDGE_BYTES = 16 * 1024;

/**
 * A pass-through for a model answer's body that reads its `usage` as the bytes flow by, never holding the stream:
 * SSE answers line by line (`message_start` gives model, input and cache tokens; `message_delta` the output
 * tokens, cumulative), JSON answers from their top-level `usage`. `onEnd` is called once, with what was read,
 * when the stream ends, fails or is cancelled (the CLI went away). Nothing of the content is kept past a line.
 */
export function meterStream(
  body: ReadableStream<Uint8Array>,
  contentType: string,
  onEnd: (reading: UsageReading) => void,
): ReadableStream<Uint8Array> {
  const parser = /text\/event-stream/i.test(contentType) ? new SseUsageParser() : new JsonUsageParser();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd(parser.reading());
  };
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
          return;
        }
        parser.push(value);
        controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason);
    },
  });
}

/** A reading of an answer that reported nothing (yet). */
export function emptyReading(): UsageReading {
  return {
    model: null,
    hasUsage: false,
    errorMessage: null,
    inputTokens: 0,
    outputTokens: 0,
    cacheCreationInputTokens: 0,
    cacheReadInputTokens: 0,
  };
}

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;

/** Takes the counts present in a `usage` object into the reading (absent counts keep their value). */
function applyUsage(reading: UsageReading, usage: unknown): void {
  if (typeof usage !== "object" || usage === null) return;
  const u = usage as Record<string, unknown>;
  reading.hasUsage = true;
  reading.inputTokens = count(u.input_tokens) ?? reading.inputTokens;
  reading.outputTokens = count(u.output_tokens) ?? reading.outputTokens;
  reading.cacheCreationInputTokens = count(u.cache_creation_input_tokens) ?? reading.cacheCreationInputTokens;
  reading.cacheReadInputTokens = count(u.cache_read_input_tokens) ?? reading.cacheReadInputTokens;
}

/** Reads `usage` from an SSE stream line by line; lines longer than the cap are skipped whole. */
export class SseUsageParser {
  private readonly decoder = new TextDecoder();
  private line = "";
  private isSkipping = false;
  private readonly state = emptyReading();

  push(chunk: Uint8Array): void {
    let text = this.decoder.decode(chunk, { stream: true });
    for (;;) {
      const newline = text.indexOf("\n");
      if (newline < 0) {
        if (!this.isSkipping) this.line += text;
        if (this.line.length > MAX_METERED_LINE_BYTES) {
          this.line = "";
          this.isSkipping = true; // a long content line: none of ours; dropped up to its end
        }
        return;
      }
      if (!this.isSkipping) this.takeLine(this.line + text.slice(0, newline));
      this.line = "";
      this.isSkipping = false;
      text = text.slice(newline + 1);
    }
  }

  reading(): UsageReading {
    if (this.line !== "" && !this.isSkipping) this.takeLine(this.line);
    this.line = "";
    return { ...this.state };
  }

  private takeLine(raw: string): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (!line.startsWith("data:")) return;
    // Only the two events that carry usage are parsed: a cheap test before JSON.parse.
    if (!line.includes('"message_start"') && !line.includes('"message_delta"')) return;
    let event: unknown;
    try {
      event = JSON.parse(line.slice(5));
    } catch {
      return;
    }
    if (typeof event !== "object" || event === null) return;
    const e = event as { type?: unknown; message?: { model?: unknown; usage?: unknown }; usage?: unknown };
    if (e.type === "message_start" && e.message) {
      if (typeof e.message.model === "string") this.state.model = e.message.model.slice(0, 200);
      applyUsage(this.state, e.message.usage);
    } else if (e.type === "message_delta") {
      applyUsage(this.state, e.usage);
    }
  }
}

/** Reads `model` and `usage` from a JSON answer: parsed whole when small, else from its kept head and tail. */
export class JsonUsageParser {
  private readonly decoder = new TextDecoder();
  private whole = "";
  private head = "";
  private tail = "";
  private isTooLong = false;

  push(chunk: Uint8Array): void {
    const text = this.decoder.decode(chunk, { stream: true });
    if (!this.isTooLong) {
      this.whole += text;
      if (this.whole.length <= MAX_METERED_JSON_BYTES) return;
      this.isTooLong = true;
      this.head = this.whole.slice(0, JSON_EDGE_BYTES);
      this.tail = this.whole.slice(-JSON_EDGE_BYTES);
      this.whole = "";
      return;
    }
    this.tail = (this.tail + text).slice(-JSON_EDGE_BYTES);
  }

  reading(): UsageReading {
    const reading = emptyReading();
    if (!this.isTooLong) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(this.whole + this.decoder.decode());
      } catch {
        return reading;
      }
      if (typeof parsed !== "object" || parsed === null) return reading;
      const p = parsed as { model?: unknown; usage?: unknown; error?: { message?: unknown } };
      if (typeof p.model === "string") reading.model = p.model.slice(0, 200);
      if (typeof p.error?.message === "string") reading.errorMessage = p.error.message.slice(0, 300);
      applyUsage(reading, p.usage);
      return reading;
    }
    // Too long to parse: content strings escape their quotes, so an unescaped `"usage":` is the field itself.
    reading.model = /"model"\s*:\s*"([^"\\]{1,200})"/.exec(this.head)?.[1] ?? null;
    let at = -1;
    for (const match of this.tail.matchAll(/(?<!\\)"usage"\s*:\s*\{/g)) at = match.index;
    if (at < 0) return reading;
    const usage = this.tail.slice(at);
    const field = (name: string) => {
      const match = new RegExp(`"${name}"\\s*:\\s*(\\d+)`).exec(usage);
      return match ? Number(match[1]) : undefined;
    };
    applyUsage(reading, {
      input_tokens: field("input_tokens"),
      output_tokens: field("output_tokens"),
      cache_creation_input_tokens: field("cache_creation_input_tokens"),
      cache_read_input_tokens: field("cache_read_input_tokens"),
    });
    return reading;
  }
}
