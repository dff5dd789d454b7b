// The usage meter reads `usage` from a model answer as it streams, without holding the stream.
import { describe, expect, test } from "bun:test";
import type { UsageReading } from "../../src/usage/meter.ts";
import { MAX_METERED_JSON_BYTES, MAX_METERED_LINE_BYTES, meterStream } from "../../src/usage/meter.ts";

const encoder = new TextEncoder();

function sse(events: Record<string, unknown>[]): string {
  return events.map((e) => `event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`).join("");
}

const MESSAGE_START = {
  type: "message_start",
  message: {
    model: "claude-sonnet-4-5-20250929",
    usage: { input_tokens: 1200, output_tokens: 1, cache_creation_input_tokens: 300, cache_read_input_tokens: 4000 },
  },
};
const MESSAGE_DELTA = { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 456 } };

/** Feeds `text` through the meter in chunks of `size` bytes; returns what came out and what was read. */
async function meter(text: string, contentType: string, size = 7): Promise<{ out: string; reading: UsageReading }> {
  const bytes = encoder.encode(text);
  let offset = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + size));
      offset += size;
    },
  });
  let reading: UsageReading | undefined;
  const out = await new Response(meterStream(body, contentType, (r) => (reading = r))).text();
  return { out, reading: reading! };
}

describe("meterStream", () => {
  test("SSE: model, input and cache tokens from message_start, output from message_delta; bytes unchanged", async () => {
    const text = sse([
      MESSAGE_START,
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hello" } },
      MESSAGE_DELTA,
      { type: "message_stop" },
    ]);
    const { out, reading } = await meter(text, "text/event-stream; charset=utf-8");
    expect(out).toBe(text);
    expect(reading).toMatchObject({
      model: "claude-sonnet-4-5-20250929",
      hasUsage: true,
      inputTokens: 1200,
      outputTokens: 456,
      cacheCreationInputTokens: 300,
      cacheReadInputTokens: 4000,
    });
  });

  test("SSE: a content line longer than the cap is skipped whole, the usage after it still counts; CRLF lines too", async () => {
    const long = "x".repeat(MAX_METERED_LINE_BYTES * 3);
    const text = sse([
      MESSAGE_START,
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: `${long} "message_delta" ` } },
    ]).concat(sse([MESSAGE_DELTA]).replaceAll("\n", "\r\n"));
    const { out, reading } = await meter(text, "text/event-stream", 4096);
    expect(out.length).toBe(text.length);
    expect(reading.outputTokens).toBe(456);
    expect(reading.inputTokens).toBe(1200);
  });

  test("the first bytes come out before the last went in (no buffering)", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(sse([MESSAGE_START])));
        await gate;
        controller.enqueue(encoder.encode(sse([MESSAGE_DELTA])));
        controller.close();
      },
    });
    let reading: UsageReading | undefined;
    const reader = meterStream(body, "text/event-stream", (r) => (reading = r)).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("message_start");
    expect(reading).toBeUndefined();
    release();
    while (!(await reader.read()).done) {}
    expect(reading?.outputTokens).toBe(456);
  });

  test("JSON answer: usage and model; an error answer's message", async () => {
    const answer = { model: "claude-haiku-4-5", usage: { input_tokens: 7, output_tokens: 3 }, content: [] };
    const { reading } = await meter(JSON.stringify(answer), "application/json");
    expect(reading).toMatchObject({ model: "claude-haiku-4-5", inputTokens: 7, outputTokens: 3, errorMessage: null });
    const error = {
      type: "error",
      error: { type: "invalid_request_error", message: "Your credit balance is too low" },
    };
    const failed = await meter(JSON.stringify(error), "application/json");
    expect(failed.reading.errorMessage).toBe("Your credit balance is too low");
    expect(failed.reading.hasUsage).toBe(false);
  });

  test('JSON answer past the parse cap: model from its head, usage from its tail (not a quoted "usage" in the text)', async () => {
    const content = `say \\"usage\\": {\\"input_tokens\\": 999999} ${"y".repeat(MAX_METERED_JSON_BYTES)}`;
    const text = `{"model":"claude-opus-4-1","content":[{"type":"text","text":"${content}"}],"usage":{"input_tokens":42,"cache_creation_input_tokens":0,"cache_read_input_tokens":8,"output_tokens":9}}`;
    const { out, reading } = await meter(text, "application/json", 65536);
    expect(out.length).toBe(text.length);
    expect(reading).toMatchObject({
      model: "claude-opus-4-1",
      inputTokens: 42,
      outputTokens: 9,
      cacheReadInputTokens: 8,
    });
  });

  test("a cancelled stream (the CLI went away) still reports what it read, once", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(sse([MESSAGE_START])));
      },
    });
    const readings: UsageReading[] = [];
    const reader = meterStream(body, "text/event-stream", (r) => readings.push(r)).getReader();
    await reader.read();
    await reader.cancel();
    expect(readings).toHaveLength(1);
    expect(readings[0]?.inputTokens).toBe(1200);
  });
});
