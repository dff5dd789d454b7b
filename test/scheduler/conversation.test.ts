import { afterEach, beforeEach, expect, test } from "bun:test";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { AgentResult, AgentRunRequest } from "../../src/agent/runner.ts";
import type { Channel, ChannelName } from "../../src/channels/types.ts";
import type { Conversation } from "../../src/conversation/index.ts";
import { createConversation } from "../../src/conversation/index.ts";
import type { OutboundReply } from "../../src/conversation/outbox.ts";
import { conversationTaskDeps, createScheduler, createTask } from "../../src/scheduler/index.ts";
import type { Scheduler } from "../../src/scheduler/loop.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, eventually, insertTenant } from "../helpers/index.ts";
import { readTask } from "./fixtures.ts";

// The scheduler wired to the real conversation engine (queue, lease, turn runner) with a stand-in
// agent runner: a due task becomes a kind='task' message, runs, answers in the tenant's chat, and its
// result is read from messages once the dispatcher reports the batch ended (conversationTaskDeps, as parts.ts wires it).
let t: TestContext;
let conversation: Conversation;
let scheduler: Scheduler;
let replies: OutboundReply[];
let prompts: string[];
let nextResult: () => AgentResult;

const channel: Channel = { name: "telegram", maxLength: 4096, send: async () => ({ ok: true, externalId: "x" }) };

beforeEach(async () => {
  t = await createTestContext();
  replies = [];
  prompts = [];
  nextResult = () => ({
    kind: "ok",
    text: "Done: coffee beans ordered.",
    sessionId: "s-1",
    durationMs: 1,
    exitCode: 0,
  });
  const runner: AgentRunner = {
    run: async (req: AgentRunRequest) => {
      prompts.push(req.prompt);
      return nextResult();
    },
  };
  conversation = createConversation(t.ctx, {
    channels: { byName: new Map<ChannelName, Channel>([["telegram", channel]]) },
    outbox: { enqueue: async (r) => (replies.push(r), [crypto.randomUUID()]) },
    runner,
  });
  scheduler = createScheduler(t.ctx, conversationTaskDeps(t.ctx, conversation.dispatcher));
  await conversation.dispatcher.start();
  scheduler.service.start();
});
afterEach(async () => {
  await scheduler.service.stop();
  await conversation.dispatcher.stop();
  await t.cleanup();
});

test("a due one-shot runs through the conversation, answers in the chat and is DONE", async () => {
  const { id: tenantId } = await insertTenant(t.ctx, {
    name: "Bean Co",
    phone_number: "+18015550199",
    telegram_chat_id: "4242",
    onboarding_status: "LIVE",
  });
  const task = await createTask(
    t.ctx,
    tenantId,
    { prompt: "Order coffee beans", run_at: new Date(Date.now() + 300).toISOString() },
    "agent",
  );
  await eventually(async () => (await readTask(t.ctx, task.id)).status === "DONE", "the task DONE");
  expect(prompts).toHaveLength(1);
  expect(prompts[0]).toContain("Order coffee beans");
  expect(replies).toHaveLength(1);
  expect(replies[0]).toMatchObject({
    tenantId,
    channel: "telegram",
    chatId: "4242",
    text: "Done: coffee beans ordered.",
  });
});

test("a failed run comes back as a retry with backoff", async () => {
  const { id: tenantId } = await insertTenant(t.ctx, {
    name: "Bean Co",
    phone_number: "+18015550199",
    telegram_chat_id: "4242",
    onboarding_status: "LIVE",
  });
  nextResult = () =>
    ({ kind: "timeout", error: "the run took too long", durationMs: 1, exitCode: null }) as AgentResult;
  const task = await createTask(
    t.ctx,
    tenantId,
    { prompt: "Check bookings", run_at: new Date(Date.now() + 300).toISOString() },
    "admin",
  );
  await eventually(async () => (await readTask(t.ctx, task.id)).attempts === 1, "one failed attempt");
  const row = await readTask(t.ctx, task.id);
  expect(row.status).toBe("PENDING");
  expect(row.last_error).toBeTruthy();
  expect(Date.parse(row.next_run_at ?? "")).toBeGreaterThan(Date.now() + 30_000);
});
