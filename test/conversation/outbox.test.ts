import { afterEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { Channel, ChannelName, SendResult } from "../../src/channels/index.ts";
import { createChannels } from "../../src/channels/index.ts";
import type { OutboundMessage } from "../../src/channels/types.ts";
import type { AppContext } from "../../src/context.ts";
import type { Outbox, OutboxOptions } from "../../src/conversation/outbox.ts";
import { createOutbox, splitMessage } from "../../src/conversation/outbox.ts";
import { openDatabase, schema } from "../../src/db/index.ts";
import { startFakeTelegram } from "../fakes/telegram.ts";
import type { TestContext } from "../helpers/context.ts";
import { createTestContext } from "../helpers/context.ts";
import { eventually } from "../helpers/index.ts";

/** A channel whose answers the test scripts; successful sends are recorded in order. */
function scriptedChannel(name: ChannelName = "telegram", maxLength = 4096, shared?: OutboundMessage[]) {
  const script: SendResult[] = [];
  const sent: OutboundMessage[] = [];
  let calls = 0;
  let gate: Promise<void> | null = null;
  const channel: Channel & { sent: OutboundMessage[]; script: SendResult[]; calls(): number; hold(): () => void } = {
    name,
    maxLength,
    sent,
    script,
    calls: () => calls,
    hold() {
      let release = () => {};
      gate = new Promise((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
    async send(message) {
      calls++;
      if (gate) await gate;
      const next = script.shift();
      if (next && !next.ok) return next;
      sent.push(message);
      shared?.push(message);
      return { ok: true, externalId: `ext-${sent.length}` };
    },
  };
  return channel;
}

const fast: OutboxOptions = { baseBackoffMs: 20, maxBackoffMs: 100, sweepMs: 2000 };
const rows = (ctx: AppContext) => ctx.db.select().from(schema.messages).orderBy(schema.messages.created_at);

let t: TestContext;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await t?.cleanup();
});

async function setup(channels: Channel[], options: OutboxOptions = fast): Promise<Outbox> {
  t = await createTestContext();
  const outbox = createOutbox(t.ctx, new Map(channels.map((c) => [c.name, c])), options);
  cleanups.push(() => outbox.stop());
  return outbox;
}

describe("outbox", () => {
  test("stores every chunk pending before sending, then marks it sent with the external id", async () => {
    const channel = scriptedChannel("telegram");
    const release = channel.hold();
    const outbox = await setup([channel]);
    await outbox.start();
    const ids = await outbox.enqueue({
      tenantId: null,
      channel: "telegram",
      chatId: "42",
      text: "hello",
      replyTo: "in-1",
      kind: "chat",
    });
    expect(ids).toHaveLength(1);
    const [stored] = await rows(t.ctx);
    expect(stored).toMatchObject({
      id: ids[0],
      direction: "out",
      status: "pending",
      body: "hello",
      chat_id: "42",
      reply_to: "in-1",
    });
    expect(await outbox.pendingCount()).toBe(1);
    release();
    await eventually(async () => (await rows(t.ctx))[0]?.status === "sent", "sent");
    const [sent] = await rows(t.ctx);
    expect(sent).toMatchObject({ status: "sent", external_id: "ext-1", attempts: 1, lease_owner: null });
    expect(await outbox.pendingCount()).toBe(0);
  });

  test("a 5,000-character reply arrives at the fake Telegram as two messages", async () => {
    t = await createTestContext();
    const fake = startFakeTelegram();
    cleanups.push(() => fake.stop());
    const ctx = await telegramContext(fake.url, fake.token);
    const channels = createChannels(ctx);
    const outbox = createOutbox(ctx, channels.byName, fast);
    cleanups.push(() => outbox.stop());
    await outbox.start();
    const text = "All good here. ".repeat(334).trim(); // ~5,000 characters
    expect(text.length).toBeGreaterThan(4096);
    const ids = await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "777", text });
    expect(ids).toHaveLength(2);
    await eventually(() => fake.sent.length === 2, "two messages");
    expect(fake.sent.map((s) => s.text).join(" ")).toBe(text);
    expect(fake.sent.every((s) => s.chat_id === "777" && s.text.length <= 4096)).toBe(true);
  });

  test("Telegram 429 with retry_after twice, then OK: one delivery", async () => {
    t = await createTestContext();
    const fake = startFakeTelegram();
    cleanups.push(() => fake.stop());
    fake.failNext("sendMessage", "429", 2, { retryAfterS: 1 });
    const ctx = await telegramContext(fake.url, fake.token);
    const outbox = createOutbox(ctx, createChannels(ctx).byName, fast);
    cleanups.push(() => outbox.stop());
    await outbox.start();
    const [id] = await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "5", text: "once" });
    const stored = async () =>
      (
        await ctx.db
          .select()
          .from(schema.messages)
          .where(eq(schema.messages.id, id ?? ""))
      )[0];
    await eventually(async () => (await stored())?.status === "sent", "delivery recorded");
    const row = await stored();
    expect(row).toMatchObject({ status: "sent", attempts: 3 });
    expect(fake.calls.filter((c) => c.method === "sendMessage")).toHaveLength(3);
    await Bun.sleep(50);
    expect(fake.sent).toHaveLength(1);
  });

  test("a retryable failure is retried with backoff, then sent", async () => {
    const channel = scriptedChannel();
    channel.script.push({ ok: false, retryable: true, error: "telegram 500: Internal Server Error" });
    const outbox = await setup([channel]);
    await outbox.start();
    await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "1", text: "retry me" });
    await eventually(async () => (await rows(t.ctx))[0]?.status === "sent", "retry recorded");
    expect(channel.calls()).toBe(2);
    expect((await rows(t.ctx))[0]).toMatchObject({ status: "sent", attempts: 2 });
  });

  test("a permanent failure (403 blocked) is marked failed with the error, not retried", async () => {
    t = await createTestContext();
    const fake = startFakeTelegram();
    cleanups.push(() => fake.stop());
    fake.failNext("sendMessage", "403");
    const ctx = await telegramContext(fake.url, fake.token);
    const outbox = createOutbox(ctx, createChannels(ctx).byName, fast);
    cleanups.push(() => outbox.stop());
    await outbox.start();
    await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "9", text: "blocked" });
    await eventually(async () => (await rows(ctx))[0]?.status === "failed", "failed");
    const [row] = await rows(ctx);
    expect(row?.error).toContain("403");
    expect(row?.error).toContain("blocked");
    await Bun.sleep(100);
    expect(fake.calls.filter((c) => c.method === "sendMessage")).toHaveLength(1);
  });

  test("gives up after maxAttempts retryable failures", async () => {
    const channel = scriptedChannel();
    for (let i = 0; i < 5; i++) channel.script.push({ ok: false, retryable: true, error: "telegram unreachable" });
    const outbox = await setup([channel], { ...fast, maxAttempts: 3 });
    await outbox.start();
    await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "1", text: "x" });
    await eventually(async () => (await rows(t.ctx))[0]?.status === "failed", "failed");
    expect((await rows(t.ctx))[0]?.error).toBe("gave up after 3 attempts: telegram unreachable");
    expect(channel.calls()).toBe(3);
  });

  test("a send that never answers counts as a retryable failure", async () => {
    const channel = scriptedChannel();
    const release = channel.hold();
    const outbox = await setup([channel], { ...fast, sendTimeoutMs: 50 });
    await outbox.start();
    await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "1", text: "slow" });
    await eventually(async () => (await rows(t.ctx))[0]?.error?.includes("no answer") === true, "timeout recorded");
    release();
    await eventually(async () => (await rows(t.ctx))[0]?.status === "sent", "sent after release");
  });

  test("rows of one chat go out in order even when the first chunk needs a retry", async () => {
    const channel = scriptedChannel("telegram", 20);
    channel.script.push({ ok: false, retryable: true, error: "telegram 502" });
    const outbox = await setup([channel]);
    await outbox.start();
    await outbox.enqueue({
      tenantId: null,
      channel: "telegram",
      chatId: "c1",
      text: "part one is here. part two is here. part three!",
    });
    await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "c1", text: "a later reply" });
    await eventually(() => channel.sent.length === 4, "four chunks");
    expect(channel.sent.map((m) => m.text)).toEqual([
      "part one is here.",
      "part two is here.",
      "part three!",
      "a later reply",
    ]);
  });

  test("after a crash, pending rows (and rows whose sender died mid-lease) are sent once by a new outbox", async () => {
    const channel = scriptedChannel();
    const crashed = await setup([channel]);
    // Never started: as if the process died right after storing the replies.
    await crashed.enqueue({ tenantId: null, channel: "telegram", chatId: "a", text: "left behind 1" });
    await crashed.enqueue({ tenantId: null, channel: "telegram", chatId: "b", text: "left behind 2" });
    const [leased] = await crashed.enqueue({
      tenantId: null,
      channel: "telegram",
      chatId: "c",
      text: "was being sent",
    });
    await t.ctx.db
      .update(schema.messages)
      .set({ lease_owner: "dead-process", lease_expires_at: new Date(Date.now() - 1000).toISOString(), attempts: 1 })
      .where(eq(schema.messages.id, leased ?? ""));
    expect(channel.calls()).toBe(0);

    const restarted = createOutbox(t.ctx, new Map([["telegram", channel]]), fast);
    cleanups.push(() => restarted.stop());
    await restarted.start();
    await eventually(async () => (await restarted.pendingCount()) === 0, "three sends recorded");
    await Bun.sleep(50);
    expect(channel.sent.map((m) => m.text).sort()).toEqual(["left behind 1", "left behind 2", "was being sent"]);
    expect(await restarted.pendingCount()).toBe(0);
  });

  test("a row leased by a live sender is left alone until its lease expires", async () => {
    const channel = scriptedChannel();
    const outbox = await setup([channel], { ...fast, sweepMs: 50 });
    const [id] = await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "a", text: "theirs" });
    const leaseUntil = Date.now() + 300;
    await t.ctx.db
      .update(schema.messages)
      .set({ lease_owner: "other-process", lease_expires_at: new Date(leaseUntil).toISOString() })
      .where(eq(schema.messages.id, id ?? ""));
    await outbox.start();
    await Bun.sleep(100);
    expect(channel.calls()).toBe(0);
    await eventually(() => channel.sent.length === 1, "sent after the lease expired");
    expect(Date.now()).toBeGreaterThanOrEqual(leaseUntil);
  });

  test("two outboxes on one database file never send a row twice, and keep each chat in order", async () => {
    const order: OutboundMessage[] = [];
    const first = scriptedChannel("telegram", 30, order);
    const second = scriptedChannel("telegram", 30, order);
    const a = await setup([first], { ...fast, concurrency: 3 });
    const other = await openDatabase(t.ctx.config.DATABASE_URL);
    cleanups.push(() => other.close());
    const b = createOutbox({ ...t.ctx, database: other, db: other.db }, new Map([["telegram", second]]), {
      ...fast,
      concurrency: 3,
    });
    cleanups.push(() => b.stop());
    await Promise.all([a.start(), b.start()]);
    const expected: string[] = [];
    for (let i = 0; i < 24; i++) {
      const body = `chat ${i % 4} message ${i}`;
      expected.push(body);
      await (i % 2 === 0 ? a : b).enqueue({ tenantId: null, channel: "telegram", chatId: `chat-${i % 4}`, text: body });
    }
    await eventually(async () => (await a.pendingCount()) === 0, "all sent and recorded");
    await Bun.sleep(50);
    const all = [...first.sent, ...second.sent].map((m) => m.text);
    expect(all.sort()).toEqual([...expected].sort());
    const stored = await rows(t.ctx);
    expect(stored.every((r) => r.status === "sent" && r.attempts === 1)).toBe(true);
    for (let chat = 0; chat < 4; chat++) {
      const seq = order.filter((m) => m.chatId === `chat-${chat}`).map((m) => Number(m.text.split(" ").pop()));
      expect(seq).toEqual([...seq].sort((x, y) => x - y));
    }
  });

  test("replies for a channel that is off stay pending (sent once it is configured)", async () => {
    const channel = scriptedChannel("telegram");
    const outbox = await setup([channel]);
    await outbox.start();
    const ids = await outbox.enqueue({
      tenantId: null,
      channel: "whatsapp",
      chatId: "+15550001111",
      text: "w".repeat(2000),
    });
    expect(ids).toHaveLength(2); // split at WhatsApp's 1600 even while the channel is off
    await Bun.sleep(50);
    expect(await outbox.pendingCount()).toBe(2);
    expect(channel.calls()).toBe(0);
  });

  test("the same claims work on the libSQL driver", async () => {
    t = await createTestContext({ driver: "libsql" });
    const channel = scriptedChannel("telegram", 10);
    const outbox = createOutbox(t.ctx, new Map([["telegram", channel]]), fast);
    cleanups.push(() => outbox.stop());
    channel.script.push({ ok: false, retryable: true, error: "telegram 500" });
    await outbox.start();
    await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "1", text: "one two three four" });
    await eventually(async () => (await outbox.pendingCount()) === 0, "both chunks recorded");
    expect(channel.sent.map((m) => m.text)).toEqual(["one two", "three four"]);
  });

  test("an empty reply stores nothing", async () => {
    const outbox = await setup([scriptedChannel()]);
    expect(await outbox.enqueue({ tenantId: null, channel: "telegram", chatId: "1", text: "   " })).toEqual([]);
    expect(await rows(t.ctx)).toHaveLength(0);
  });
});

/** A second context on the test database with Telegram pointed at a fake. */
async function telegramContext(apiRoot: string, token: string): Promise<AppContext> {
  const config = Object.freeze({
    ...t.ctx.config,
    TELEGRAM_BOT_TOKEN: token,
    TELEGRAM_API_ROOT: apiRoot,
    TELEGRAM_MODE: "webhook" as const,
  });
  return { ...t.ctx, config };
}

describe("splitMessage", () => {
  test("short text is one chunk; blank text is none", () => {
    expect(splitMessage("  hello  ", 10)).toEqual(["hello"]);
    expect(splitMessage(" \n ", 10)).toEqual([]);
  });

  test("5,000 characters become two Telegram messages, each within 4096", () => {
    const words = Array.from({ length: 1000 }, (_, i) => `word${i % 10}`).join(" ");
    const text = words.slice(0, 5000);
    const chunks = splitMessage(text, 4096);
    expect(chunks).toHaveLength(2);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(4096);
    expect(chunks.join(" ")).toBe(text);
  });

  test("prefers a paragraph break", () => {
    const a = "First paragraph. It has two sentences.";
    const b = "Second paragraph here. More words follow.";
    const chunks = splitMessage(`${a}\n\n${b}`, a.length + 10);
    expect(chunks).toEqual([a, b]);
  });

  test("then a sentence end, when no paragraph break fits", () => {
    const text = "One sentence is here. Another sentence is here too and it goes on";
    const chunks = splitMessage(text, 40);
    expect(chunks[0]).toBe("One sentence is here.");
    expect(chunks.every((c) => c.length <= 40)).toBe(true);
  });

  test("then a word boundary", () => {
    const text = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
    const chunks = splitMessage(text, 20);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(20);
      expect(c).not.toMatch(/^\s|\s$/);
    }
    expect(chunks.join(" ")).toBe(text);
  });

  test("a text without spaces is cut hard, never inside a surrogate pair", () => {
    const text = "😀".repeat(10); // 20 UTF-16 units
    const chunks = splitMessage(text, 5);
    expect(chunks.join("")).toBe(text);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(5);
      expect(c).toBe(Array.from(c).join("")); // no lone surrogates
      expect(/[\uD800-\uDBFF]$/.test(c)).toBe(false);
    }
  });

  test("a tiny paragraph early in the window does not make a tiny chunk", () => {
    const text = `Hi.\n\n${"x ".repeat(60)}`;
    const chunks = splitMessage(text, 50);
    expect(chunks[0]?.length).toBeGreaterThan(25);
  });

  test("WhatsApp limit 1600", () => {
    const text = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} is about the shop's opening hours.`).join(
      " ",
    );
    const chunks = splitMessage(text, 1600);
    expect(chunks.length).toBe(Math.ceil(text.length / 1600));
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(1600);
      expect(c.endsWith(".")).toBe(true);
    }
  });
});
