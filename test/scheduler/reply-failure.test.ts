import { afterEach, beforeEach, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { Channel, ChannelName, OutboundMessage } from "../../src/channels/types.ts";
import { isoAt } from "../../src/clock.ts";
import type { Conversation, Outbox } from "../../src/conversation/index.ts";
import { createConversation, createOutbox, insertInbound } from "../../src/conversation/index.ts";
import { OUTSIDE_WINDOW_ERROR } from "../../src/conversation/whatsapp-window.ts";
import { schema } from "../../src/db/index.ts";
import { conversationTaskDeps, createScheduler, createTask } from "../../src/scheduler/index.ts";
import type { Scheduler } from "../../src/scheduler/loop.ts";
import { findTaskRunResult } from "../../src/scheduler/task-queue.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, eventually, insertTenant } from "../helpers/index.ts";
import { readTask } from "./fixtures.ts";

// Issue 15: a scheduled task whose reply failed in the outbox (WhatsApp window closed, no template) says so in
// its own row (last_error), whether the reply failed before the scheduler read the run's outcome or after it.
// The real conversation engine, outbox and scheduler with a stand-in agent and WhatsApp channel.
const DAY_MS = 24 * 3_600_000;
let t: TestContext;
let conversation: Conversation;
let outbox: Outbox;
let scheduler: Scheduler;
let sent: OutboundMessage[];
let tenantId: string;
let phone: string;

beforeEach(async () => {
  t = await createTestContext(); // no WHATSAPP_TEMPLATE_SID
  sent = [];
  const whatsapp: Channel = {
    name: "whatsapp",
    maxLength: 1600,
    send: async (m) => (sent.push(m), { ok: true, externalId: `SM${sent.length}` }),
  };
  const runner: AgentRunner = {
    run: async () => ({
      kind: "ok",
      text: "Reminder: confirm tomorrow's delivery.",
      sessionId: "s-1",
      durationMs: 1,
      exitCode: 0,
    }),
  };
  const channels = new Map<ChannelName, Channel>([["whatsapp", whatsapp]]);
  outbox = createOutbox(t.ctx, channels, { sweepMs: 200 });
  conversation = createConversation(t.ctx, { channels: { byName: channels }, outbox, runner });
  scheduler = createScheduler(t.ctx, conversationTaskDeps(t.ctx, conversation.dispatcher, outbox));
  const tenant = await insertTenant(t.ctx, { channel: "whatsapp", onboarding_status: "LIVE" });
  tenantId = tenant.id;
  phone = tenant.phone_number;
  // The customer last wrote 25 hours ago: the window is closed.
  await insertInbound(t.ctx.db, {
    id: crypto.randomUUID(),
    tenant_id: tenantId,
    channel: "whatsapp",
    chat_id: phone,
    external_id: "SMin-1",
    kind: "chat",
    sender: "Customer",
    body: "Please remind me",
    status: "done",
    created_at: isoAt(Date.now() - DAY_MS - 3_600_000),
  });
  scheduler.service.start(); // each test starts the dispatcher (and the outbox) when it needs them
});
afterEach(async () => {
  await scheduler.service.stop();
  await conversation.dispatcher.stop();
  await outbox.stop();
  await t.cleanup();
});

async function reminder(
  runAtMs = Date.now() + 300,
  prompt = "Remind the customer to confirm the delivery",
): Promise<string> {
  const task = await createTask(t.ctx, tenantId, { prompt, run_at: new Date(runAtMs).toISOString() }, "agent");
  return task.id;
}

test("the reply fails after the run's outcome was applied: the DONE task's last_error says outside_whatsapp_window", async () => {
  await conversation.dispatcher.start();
  const taskId = await reminder(); // the outbox is not started yet: the reply waits, pending
  await eventually(async () => (await readTask(t.ctx, taskId)).status === "DONE", "the task DONE");
  expect((await readTask(t.ctx, taskId)).last_error).toBeNull();

  await outbox.start();
  await eventually(async () => (await readTask(t.ctx, taskId)).last_error !== null, "last_error written");
  const row = await readTask(t.ctx, taskId);
  expect(row.status).toBe("DONE");
  expect(row.last_error).toBe(`reply not delivered: ${OUTSIDE_WINDOW_ERROR}`);
  expect(sent).toEqual([]); // nothing went out as free text
});

test("with the outbox running from the start, the task row ends saying outside_whatsapp_window", async () => {
  await outbox.start();
  await conversation.dispatcher.start();
  const taskId = await reminder();
  await eventually(async () => {
    const row = await readTask(t.ctx, taskId);
    return row.status === "DONE" && row.last_error !== null;
  }, "the task DONE with last_error");
  expect((await readTask(t.ctx, taskId)).last_error).toBe(`reply not delivered: ${OUTSIDE_WINDOW_ERROR}`);
  expect(sent).toEqual([]);
});

test("two reminders due together run in one batch with one reply: both task rows say it was not delivered", async () => {
  const at = Date.now() + 300;
  const taskIds = [await reminder(at, "Remind about the delivery"), await reminder(at, "Remind about the invoice")];
  // Both claimed and queued before the dispatcher looks: one batch, one run, one reply (to the last message).
  await eventually(async () => {
    const rows = await Promise.all(taskIds.map((id) => readTask(t.ctx, id)));
    return rows.every((row) => row.status === "RUNNING");
  }, "both tasks claimed");
  await eventually(async () => {
    const queued = await t.ctx.db.select().from(schema.messages).where(eq(schema.messages.kind, "task"));
    return queued.length === 2;
  }, "both task messages queued");
  await conversation.dispatcher.start();
  await eventually(async () => {
    const rows = await Promise.all(taskIds.map((id) => readTask(t.ctx, id)));
    return rows.every((row) => row.status === "DONE");
  }, "both tasks DONE");
  await outbox.start();
  await eventually(async () => {
    const rows = await Promise.all(taskIds.map((id) => readTask(t.ctx, id)));
    return rows.every((row) => row.last_error !== null);
  }, "both tasks' last_error");
  for (const id of taskIds)
    expect((await readTask(t.ctx, id)).last_error).toBe(`reply not delivered: ${OUTSIDE_WINDOW_ERROR}`);
  const replies = await t.ctx.db.select().from(schema.messages).where(eq(schema.messages.direction, "out"));
  expect(replies).toHaveLength(1); // really one batch
});

test("findTaskRunResult: a done run whose reply already failed is ok with a deliveryError; a sent reply is plain ok", async () => {
  const queuedAt = isoAt(Date.now());
  const runMessage = crypto.randomUUID();
  await insertInbound(t.ctx.db, {
    id: runMessage,
    tenant_id: tenantId,
    channel: "whatsapp",
    chat_id: phone,
    external_id: null,
    kind: "task",
    sender: "scheduler",
    body: "x",
    status: "done",
    task_id: "task-1",
    created_at: queuedAt,
  });
  const reply = crypto.randomUUID();
  await t.ctx.db.insert(schema.messages).values({
    id: reply,
    tenant_id: tenantId,
    direction: "out",
    channel: "whatsapp",
    chat_id: phone,
    kind: "task",
    body: "Reminder",
    status: "sent",
    reply_to: runMessage,
    created_at: queuedAt,
  });
  expect(await findTaskRunResult(t.ctx, "task-1", queuedAt, tenantId)).toEqual({ ok: true });
  await t.ctx.db.insert(schema.messages).values({
    id: crypto.randomUUID(),
    tenant_id: tenantId,
    direction: "out",
    channel: "whatsapp",
    chat_id: phone,
    kind: "task",
    body: "Reminder, part 2",
    status: "failed",
    error: OUTSIDE_WINDOW_ERROR,
    reply_to: runMessage,
    created_at: queuedAt,
  });
  for (const tenant of [tenantId, undefined])
    expect(await findTaskRunResult(t.ctx, "task-1", queuedAt, tenant)).toEqual({
      ok: true,
      deliveryError: `reply not delivered: ${OUTSIDE_WINDOW_ERROR}`,
    });
});

test("findTaskRunResult: a reply that failed for another message of the same batch (same processed_at) counts too", async () => {
  const queuedAt = isoAt(Date.now());
  const processedAt = isoAt(Date.now() + 5_000);
  const ids = { first: crypto.randomUUID(), last: crypto.randomUUID(), otherBatch: crypto.randomUUID() };
  for (const [id, taskId, processed] of [
    [ids.first, "task-a", processedAt],
    [ids.last, "task-b", processedAt],
    [ids.otherBatch, "task-c", isoAt(Date.now() + 9_000)],
  ] as const)
    await insertInbound(t.ctx.db, {
      id,
      tenant_id: tenantId,
      channel: "whatsapp",
      chat_id: phone,
      external_id: null,
      kind: "task",
      sender: "scheduler",
      body: taskId,
      status: "done",
      task_id: taskId,
      created_at: queuedAt,
      processed_at: processed,
    });
  await t.ctx.db.insert(schema.messages).values({
    id: crypto.randomUUID(),
    tenant_id: tenantId,
    direction: "out",
    channel: "whatsapp",
    chat_id: phone,
    kind: "task",
    body: "Both reminders",
    status: "failed",
    error: OUTSIDE_WINDOW_ERROR,
    reply_to: ids.last,
    created_at: processedAt,
  });
  const failed = { ok: true, deliveryError: `reply not delivered: ${OUTSIDE_WINDOW_ERROR}` };
  expect(await findTaskRunResult(t.ctx, "task-a", queuedAt, tenantId)).toEqual(failed);
  expect(await findTaskRunResult(t.ctx, "task-b", queuedAt, tenantId)).toEqual(failed);
  expect(await findTaskRunResult(t.ctx, "task-c", queuedAt, tenantId)).toEqual({ ok: true });
});
