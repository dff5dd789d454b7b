import { afterEach, describe, expect, test } from "bun:test";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { AgentResult } from "../../src/agent/runner.ts";
import { createChannels } from "../../src/channels/index.ts";
import type { Channel } from "../../src/channels/types.ts";
import type { Conversation } from "../../src/conversation/index.ts";
import { createConversation } from "../../src/conversation/index.ts";
import { createTypingIndicator } from "../../src/conversation/turn.ts";
import type { FakeTelegram } from "../fakes/telegram.ts";
import { FAKE_BOT_TOKEN, startFakeTelegram } from "../fakes/telegram.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, eventually, insertTenant } from "../helpers/index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("createTypingIndicator", () => {
  function countingChannel(): Channel & { shown: string[] } {
    const shown: string[] = [];
    return {
      name: "telegram",
      maxLength: 4096,
      shown,
      send: async () => ({ ok: true, externalId: "x" }),
      showTyping: async (chatId) => void shown.push(chatId),
    };
  }

  test("one timer per chat however many runs hold it; it stops with the last holder; stop() twice is harmless", async () => {
    const channel = countingChannel();
    const startTyping = createTypingIndicator(20);
    const first = startTyping(channel, "1");
    const second = startTyping(channel, "1");
    expect(channel.shown).toEqual([]); // the run being started goes first: shown in the next turn of the loop
    await nextTurnOfLoop();
    expect(channel.shown).toEqual(["1"]); // shown once at the start, not once per holder
    await eventually(() => channel.shown.length >= 4, "renewed");
    first();
    first();
    const afterFirstStop = channel.shown.length;
    await eventually(() => channel.shown.length > afterFirstStop, "still renewed while the second holds it");
    second();
    const stoppedAt = channel.shown.length;
    await sleep(100);
    expect(channel.shown.length).toBe(stoppedAt);
  });

  test("another chat has its own timer; no channel or no chat is a no-op", async () => {
    const channel = countingChannel();
    const startTyping = createTypingIndicator(20);
    const a = startTyping(channel, "1");
    const b = startTyping(channel, "2");
    await nextTurnOfLoop();
    expect(channel.shown).toEqual(["1", "2"]);
    a();
    b();
    startTyping(undefined, "1")();
    startTyping(channel, undefined)();
    const stoppedAt = channel.shown.length;
    await sleep(60);
    expect(channel.shown.length).toBe(stoppedAt);
  });

  test("a run stopped before the next turn of the loop shows nothing", async () => {
    const channel = countingChannel();
    createTypingIndicator(20)(channel, "1")();
    await sleep(60);
    expect(channel.shown).toEqual([]);
  });
});

const nextTurnOfLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("typing during a turn (fake Telegram)", () => {
  let t: TestContext;
  let tg: FakeTelegram;
  let conversation: Conversation;

  afterEach(async () => {
    await conversation?.dispatcher.stop();
    await tg?.stop();
    await t?.cleanup();
  });

  const typingCalls = () =>
    tg.calls.filter((c) => c.method === "sendChatAction" && c.params.action === "typing").length;

  async function setup(run: () => Promise<AgentResult>) {
    tg = startFakeTelegram();
    t = await createTestContext({
      env: { TELEGRAM_BOT_TOKEN: FAKE_BOT_TOKEN, TELEGRAM_API_ROOT: tg.url, TELEGRAM_MODE: "polling" },
    });
    const channels = createChannels(t.ctx, { onInbound: async () => {} });
    const handedOver: number[] = [];
    const runner: AgentRunner = { run };
    conversation = createConversation(t.ctx, {
      channels: { byName: channels.byName },
      outbox: { enqueue: async () => (handedOver.push(typingCalls()), [crypto.randomUUID()]) },
      runner,
    });
    await conversation.dispatcher.start();
    await insertTenant(t.ctx, { telegram_chat_id: "1001" });
    return { handedOver };
  }

  const inbound = () => ({
    channel: "telegram" as const,
    externalId: `u-${crypto.randomUUID()}`,
    chatId: "1001",
    text: "Make me the quote",
    media: [],
    receivedAtMs: Date.now(),
  });

  test("renewed every 4 s during a 12 s run, and stopped once the reply is handed to the outbox", async () => {
    const { handedOver } = await setup(async () => {
      await sleep(12_000);
      return { kind: "ok", text: "Here it is", sessionId: "s1", durationMs: 12_000, exitCode: 0 };
    });
    await conversation.handleInbound(inbound());
    await conversation.dispatcher.idle();
    expect(handedOver).toHaveLength(1);
    // At 0, 4 and 8 s at least (a loaded machine may fire the 12 s renewal late or not at all).
    expect(handedOver[0]).toBeGreaterThanOrEqual(3);
    // A renewal that fired just before the hand-off may still be on its way to the fake: at most that one lands late.
    await sleep(1_000);
    const settled = typingCalls();
    expect(settled - handedOver[0]!).toBeLessThanOrEqual(1);
    await sleep(4_500);
    expect(typingCalls()).toBe(settled);
  }, 60_000);

  test("a failed run stops it too", async () => {
    await setup(async () => {
      await sleep(500);
      return { kind: "crash", error: "boom", durationMs: 500, exitCode: 1 };
    });
    await conversation.handleInbound(inbound());
    await conversation.dispatcher.idle();
    const atEnd = typingCalls();
    expect(atEnd).toBeGreaterThanOrEqual(1);
    await sleep(4_500);
    expect(typingCalls()).toBe(atEnd);
  }, 60_000);
});
