import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { asc, eq, sql } from "drizzle-orm";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { AgentResult, AgentRunRequest } from "../../src/agent/runner.ts";
import type { Channel, ChannelName, InboundMessage } from "../../src/channels/types.ts";
import type { AppContext } from "../../src/context.ts";
import { agentHealthDetails } from "../../src/conversation/agent-health.ts";
import { RUN_FAILED_REPLY } from "../../src/conversation/chat-commands.ts";
import type { Conversation } from "../../src/conversation/index.ts";
import { createConversation } from "../../src/conversation/index.ts";
import { insertInbound } from "../../src/conversation/message-store.ts";
import type { OutboundReply } from "../../src/conversation/outbox.ts";
import { getSessionState } from "../../src/conversation/session-store.ts";
import { messages } from "../../src/db/schema.ts";
import { openChatSession } from "../../src/parts.ts";
import { findTaskRunResult, insertTaskMessage, isTaskMessageOpen } from "../../src/scheduler/task-queue.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant } from "../helpers/index.ts";

type Script = (req: AgentRunRequest) => AgentResult | Promise<AgentResult>;
const ok = (text: string, sessionId = "sess-1"): AgentResult => ({
  kind: "ok",
  text,
  sessionId,
  durationMs: 5,
  exitCode: 0,
});
const fail = (kind: Exclude<AgentResult["kind"], "ok">, error = `${kind} happened`): AgentResult =>
  ({ kind, error, durationMs: 5, exitCode: 1 }) as AgentResult;

let n = 0;
const tg = (text: string, chatId = "1001"): InboundMessage => {
  n += 1;
  return {
    channel: "telegram",
    externalId: `t-${n}`,
    chatId,
    text,
    senderName: "Owner",
    media: [],
    receivedAtMs: Date.now(),
  };
};

describe("turn runner through createConversation", () => {
  let tc: TestContext;
  let ctx: AppContext;
  let replies: OutboundReply[];
  let requests: AgentRunRequest[];
  let script: Script;
  let conversation: Conversation;
  let typing: number;

  const channel: Channel = {
    name: "telegram",
    maxLength: 4096,
    send: async () => ({ ok: true, externalId: "x" }),
    showTyping: async () => void (typing += 1),
  };

  function build(): Conversation {
    const runner: AgentRunner = { run: async (req) => (requests.push(req), script(req)) };
    return createConversation(ctx, {
      channels: { byName: new Map<ChannelName, Channel>([["telegram", channel]]) },
      outbox: { enqueue: async (r) => (replies.push(r), [crypto.randomUUID()]) },
      runner,
      withholdFromAgent: ["SERVER_ONLY"],
    });
  }

  beforeEach(async () => {
    tc = await createTestContext({ clock: { now: () => Date.now() } });
    ctx = tc.ctx;
    replies = [];
    requests = [];
    typing = 0;
    script = () => ok("Hi there!");
    conversation = build();
    await conversation.dispatcher.start();
  });
  afterEach(async () => {
    await conversation.dispatcher.stop();
    await tc.cleanup();
  });

  const inboundRows = () =>
    ctx.db.select().from(messages).where(eq(messages.direction, "in")).orderBy(asc(messages.created_at), sql`rowid`);

  test("ok: one run, reply to the last message, session stored and resumed next time", async () => {
    const t = await insertTenant(ctx, { telegram_chat_id: "1001", timezone: "America/Denver" });
    // "typing…" is shown from the next turn of the event loop: a run that ends within the current one shows none.
    script = async () => (await Bun.sleep(5), ok("Hi there!"));
    await conversation.handleInbound(tg("Hello"));
    await conversation.dispatcher.idle();
    const [row] = await inboundRows();
    expect(row).toMatchObject({ status: "done", error: null });
    expect(replies).toEqual([
      { tenantId: t.id, channel: "telegram", chatId: "1001", text: "Hi there!", replyTo: row!.id, kind: "chat" },
    ]);
    expect(requests[0]).toMatchObject({ tenantId: t.id, sessionId: null, timezone: "America/Denver" });
    expect(requests[0]!.prompt).toContain("Hello");
    expect(requests[0]!.prompt).toContain("Owner");
    expect(typing).toBeGreaterThan(0);
    expect((await getSessionState(ctx.db, t.id))?.agent_session_id).toBe("sess-1");
    await conversation.handleInbound(tg("Again"));
    await conversation.dispatcher.idle();
    expect(requests[1]!.sessionId).toBe("sess-1");
    const health = await conversation.health();
    expect(health.degraded).toBe(false);
  });

  for (const kind of ["timeout", "crash", "bad_output", "credit_too_low", "session_not_found"] as const) {
    test(`${kind}: rows failed with the class, customer told once, /health shows it`, async () => {
      const t = await insertTenant(ctx, { telegram_chat_id: "1001" });
      script = () => fail(kind);
      await conversation.handleInbound(tg("Do something"));
      await conversation.dispatcher.idle();
      const [row] = await inboundRows();
      expect(row!.status).toBe("failed");
      expect(row!.error).toStartWith(`${kind}:`);
      expect(replies).toHaveLength(1);
      expect(replies[0]).toMatchObject({ kind: "system", replyTo: row!.id });
      expect(replies[0]!.text).toContain("could not finish; I've told the team");
      const health = await conversation.health();
      expect(health.fields.last_agent_failure).toEqual({ kind, at: expect.any(String) }); // public: no tenant, no error text
      expect((await agentHealthDetails(ctx.db)).last_agent_failure).toMatchObject({
        kind,
        tenant_id: t.id,
        error: `${kind} happened`,
      });
      expect(health.degraded).toBe(kind === "credit_too_low");
      if (kind === "credit_too_low") {
        script = () => ok("back");
        await conversation.handleInbound(tg("retry"));
        await conversation.dispatcher.idle();
        expect((await conversation.health()).degraded).toBe(false);
      }
    });
  }

  test("a stale session is retried fresh once and the new id stored", async () => {
    const t = await insertTenant(ctx, { telegram_chat_id: "1001" });
    script = () => ok("first", "sess-old");
    await conversation.handleInbound(tg("one"));
    await conversation.dispatcher.idle();
    script = (req) => (req.sessionId ? fail("session_not_found") : ok("fresh", "sess-new"));
    await conversation.handleInbound(tg("two"));
    await conversation.dispatcher.idle();
    expect(requests.map((r) => r.sessionId)).toEqual([null, "sess-old", null]);
    expect((await getSessionState(ctx.db, t.id))?.agent_session_id).toBe("sess-new");
    expect(replies.map((r) => r.text)).toEqual(["first", "fresh"]);
  });

  test("tasks: queued as kind=task to the tenant's chat, the batch's end reported, the outcome in messages; a failed task does not message the customer", async () => {
    const t = await insertTenant(ctx, { telegram_chat_id: "1001" });
    const since = new Date(ctx.clock.now() - 1000).toISOString();
    const ended: string[] = [];
    conversation.dispatcher.onBatchFinished((rows) =>
      ended.push(...rows.flatMap((r) => (r.task_id ? [r.task_id] : []))),
    );
    const id = await insertTaskMessage(ctx, t, { taskId: "task-1", prompt: "Send the weekly summary" });
    conversation.dispatcher.wake();
    await conversation.dispatcher.idle();
    expect(requests[0]!.prompt).toContain("Scheduled task");
    expect(replies[0]).toMatchObject({ chatId: "1001", kind: "task", replyTo: id });
    expect(ended).toEqual(["task-1"]);
    expect(await findTaskRunResult(ctx, "task-1", since)).toEqual({ ok: true });
    expect(await isTaskMessageOpen(ctx, "task-1")).toBe(false);
    script = () => fail("timeout");
    await insertTaskMessage(ctx, t, { taskId: "task-2", prompt: "x" });
    conversation.dispatcher.wake();
    await conversation.dispatcher.idle();
    expect(replies).toHaveLength(1);
    expect(ended).toEqual(["task-1", "task-2"]);
    expect(await findTaskRunResult(ctx, "task-2", since)).toMatchObject({ ok: false });
  });

  test("a run answered before a crash (reply stored, rows still processing) is not run again", async () => {
    await conversation.dispatcher.stop();
    const t = await insertTenant(ctx, { telegram_chat_id: "1001" });
    const inId = crypto.randomUUID();
    await insertInbound(ctx.db, {
      id: inId,
      tenant_id: t.id,
      channel: "telegram",
      chat_id: "1001",
      external_id: "e1",
      body: "q",
      status: "processing",
      attempts: 1, // claimed once, by the run that crashed
      lease_owner: "deadhost:1:x",
    });
    await ctx.db.insert(messages).values({
      id: crypto.randomUUID(),
      tenant_id: t.id,
      direction: "out",
      channel: "telegram",
      chat_id: "1001",
      body: "answer",
      status: "pending",
      reply_to: inId,
    });
    conversation = build();
    await conversation.dispatcher.start();
    await conversation.dispatcher.idle();
    expect(requests).toHaveLength(0);
    expect((await inboundRows())[0]!.status).toBe("done");
  });

  test("credentials reach the run; server-side-only keys are withheld", async () => {
    const t = await insertTenant(ctx, { telegram_chat_id: "1001" });
    const { mkdirSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    mkdirSync(join(ctx.config.TENANTS_DIR, t.id), { recursive: true });
    writeFileSync(join(ctx.config.TENANTS_DIR, t.id, ".env"), "ACME_TOKEN=abc\nSERVER_ONLY=nope\n");
    await conversation.handleInbound(tg("env?"));
    await conversation.dispatcher.idle();
    expect(requests[0]!.tenantEnv.ACME_TOKEN).toBe("abc");
    expect(requests[0]!.tenantEnv.SERVER_ONLY).toBeUndefined();
  });

  test("proxystaff chat's session: console in, reply printed, same pipeline", async () => {
    await conversation.dispatcher.stop();
    const t = await insertTenant(ctx);
    const printed: string[] = [];
    const runner: AgentRunner = {
      run: async (req) => (requests.push(req), ok(`echo: ${req.prompt.split("\n").at(-1)}`)),
    };
    const session = await openChatSession(ctx, t.id, { print: (text) => printed.push(text), runner, pollMs: 10 });
    try {
      await session.send("ping");
      await session.send("/help");
      expect(printed[0]).toBe("echo: ping");
      expect(printed[1]).toContain("/reset");
      const rows = await inboundRows();
      expect(rows.map((r) => [r.channel, r.kind, r.status])).toEqual([
        ["console", "chat", "done"],
        ["console", "command", "done"],
      ]);
    } finally {
      await session.close();
    }
  });

  describe("a hostile workspace file (S2) fails only its tenant's run, never the event loop", () => {
    const held: Bun.Subprocess[] = [];
    afterEach(() => {
      for (const child of held.splice(0)) child.kill("SIGKILL");
    });

    /** A FIFO whose writer turns up after 1.5 s: code that opens it blocks that long (instead of for ever). */
    function fifoWithLateWriter(path: string): void {
      mkdirSync(dirname(path), { recursive: true });
      Bun.spawnSync(["mkfifo", path]);
      held.push(
        Bun.spawn(["timeout", "10", "sh", "-c", `sleep 1.5; printf 'STOLEN=1\\n' > "$1"`, "sh", path], {
          stdout: "ignore",
          stderr: "ignore",
        }),
      );
    }

    for (const file of [".env", "CLAUDE.md"]) {
      test(`${file} is a FIFO: that run fails with unsafe_workspace_file, the customer gets the failure reply; another tenant is answered meanwhile`, async () => {
        const victim = await insertTenant(ctx, { telegram_chat_id: "1001" });
        const other = await insertTenant(ctx, { telegram_chat_id: "2002" });
        fifoWithLateWriter(join(ctx.config.TENANTS_DIR, victim.id, file));
        let lastTick = performance.now();
        let maxGapMs = 0;
        const ticker = setInterval(() => {
          maxGapMs = Math.max(maxGapMs, performance.now() - lastTick);
          lastTick = performance.now();
        }, 10);
        try {
          await conversation.handleInbound(tg("hello", "1001"));
          await conversation.handleInbound(tg("hi", "2002"));
          await conversation.dispatcher.idle();
        } finally {
          clearInterval(ticker);
        }
        expect(maxGapMs).toBeLessThan(500);
        const rows = await inboundRows();
        const byChat = (chatId: string) => rows.find((r) => r.chat_id === chatId)!;
        expect(byChat("1001")).toMatchObject({ status: "failed" });
        expect(byChat("1001").error).toContain("unsafe_workspace_file");
        expect(byChat("1001").error).toContain(`${file} is a FIFO`);
        expect(byChat("2002")).toMatchObject({ status: "done" });
        expect(requests.map((r) => r.tenantId)).toEqual([other.id]);
        expect(replies.find((r) => r.tenantId === victim.id)).toMatchObject({ text: RUN_FAILED_REPLY, kind: "system" });
        expect(replies.find((r) => r.tenantId === other.id)).toMatchObject({ text: "Hi there!" });
      });
    }
  });
});
