// The budget check before a run, in process (stand-in runner): refused batches start no agent, fail with
// budget_exceeded, and the customer hears it once a month; scheduled tasks are refused without a reply.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { asc, eq, sql } from "drizzle-orm";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { AgentRunRequest } from "../../src/agent/runner.ts";
import type { Channel, ChannelName, InboundMessage } from "../../src/channels/types.ts";
import { BUDGET_REACHED_REPLY } from "../../src/conversation/budget-gate.ts";
import type { Conversation } from "../../src/conversation/index.ts";
import { createConversation } from "../../src/conversation/index.ts";
import type { OutboundReply } from "../../src/conversation/outbox.ts";
import { messages } from "../../src/db/schema.ts";
import { insertTaskMessage } from "../../src/scheduler/task-queue.ts";
import { recordModelUsage } from "../../src/usage/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";

let n = 0;
const tg = (text: string): InboundMessage => ({
  channel: "telegram",
  externalId: `b-${++n}`,
  chatId: "2002",
  text,
  senderName: "Owner",
  media: [],
  receivedAtMs: Date.now(),
});

describe("budget gate before a run", () => {
  let tc: TestContext;
  let clock: FakeClock;
  let replies: OutboundReply[];
  let requests: AgentRunRequest[];
  let conversation: Conversation;

  beforeEach(async () => {
    clock = new FakeClock(Date.parse("2026-12-31T12:00:00Z"));
    tc = await createTestContext({ clock, env: { TENANT_MONTHLY_BUDGET_USD: "5" } });
    replies = [];
    requests = [];
    const channel: Channel = { name: "telegram", maxLength: 4096, send: async () => ({ ok: true, externalId: "x" }) };
    const runner: AgentRunner = {
      run: async (req) => {
        requests.push(req);
        return { kind: "ok", text: "ran", sessionId: "s", durationMs: 1, exitCode: 0 };
      },
    };
    conversation = createConversation(tc.ctx, {
      channels: { byName: new Map<ChannelName, Channel>([["telegram", channel]]) },
      outbox: { enqueue: async (r) => (replies.push(r), [crypto.randomUUID()]) },
      runner,
    });
    await conversation.dispatcher.start();
  });
  afterEach(async () => {
    await conversation.dispatcher.stop();
    await tc.cleanup();
  });

  const spend = (tenantId: string, costUsd: number, day: string) =>
    recordModelUsage(tc.ctx.db, {
      tenantId,
      runId: "earlier",
      model: "claude-sonnet-4-5",
      inputTokens: 1,
      outputTokens: 1,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
      costUsd,
      status: 200,
      day,
    });
  const inbound = () =>
    tc.ctx.db.select().from(messages).where(eq(messages.direction, "in")).orderBy(asc(messages.created_at), sql`rowid`);

  test("under budget: runs; at the default budget: no run, rows failed, one reply for the month; next month again", async () => {
    const t = await insertTenant(tc.ctx, { telegram_chat_id: "2002", timezone: "UTC" });
    await spend(t.id, 4.99, "2026-12-30");
    await conversation.handleInbound(tg("first"));
    await conversation.dispatcher.idle();
    expect(requests).toHaveLength(1);

    await spend(t.id, 0.01, "2026-12-31"); // exactly the budget: over
    await conversation.handleInbound(tg("second"));
    await conversation.dispatcher.idle();
    await conversation.handleInbound(tg("third"));
    await conversation.dispatcher.idle();
    expect(requests).toHaveLength(1); // no agent for either
    const rows = await inbound();
    expect(rows.slice(1).map((r) => [r.status, r.error])).toEqual([
      ["failed", "budget_exceeded"],
      ["failed", "budget_exceeded"],
    ]);
    expect(replies.filter((r) => r.text === BUDGET_REACHED_REPLY)).toEqual([
      {
        tenantId: t.id,
        channel: "telegram",
        chatId: "2002",
        text: BUDGET_REACHED_REPLY,
        replyTo: rows[1]!.id,
        kind: "system",
      },
    ]);
    expect(await tc.ctx.metrics.budgetRefusedRuns.get()).toMatchObject({ values: [{ value: 2 }] });

    clock.advance(24 * 3600_000); // 2027-01-01: a new month, nothing spent in it
    await conversation.handleInbound(tg("new year"));
    await conversation.dispatcher.idle();
    expect(requests).toHaveLength(2);
  });

  test("the tenant's own budget overrides the default; a refused scheduled task gets no reply", async () => {
    const t = await insertTenant(tc.ctx, { telegram_chat_id: "2002", monthly_budget_usd: 100 });
    await spend(t.id, 50, "2026-12-01");
    await conversation.handleInbound(tg("runs: 50 < 100"));
    await conversation.dispatcher.idle();
    expect(requests).toHaveLength(1);

    await spend(t.id, 60, "2026-12-02");
    await insertTaskMessage(tc.ctx, t, { taskId: "task-b", prompt: "weekly summary" });
    conversation.dispatcher.wake();
    await conversation.dispatcher.idle();
    expect(requests).toHaveLength(1);
    expect(replies.filter((r) => r.text === BUDGET_REACHED_REPLY)).toEqual([]);
    const task = (await inbound()).find((r) => r.kind === "task");
    expect(task).toMatchObject({ status: "failed", error: "budget_exceeded" });
  });
});
