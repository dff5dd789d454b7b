import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { AgentResult, AgentRunRequest } from "../../src/agent/runner.ts";
import type { Channel, ChannelName, InboundMessage } from "../../src/channels/types.ts";
import type { AppContext } from "../../src/context.ts";
import type { Dispatcher } from "../../src/conversation/dispatcher.ts";
import { createDispatcher } from "../../src/conversation/dispatcher.ts";
import type { OutboundReply } from "../../src/conversation/outbox.ts";
import { createInboundPipeline } from "../../src/conversation/pipeline.ts";
import { getSessionState, newOwnerId } from "../../src/conversation/session-store.ts";
import { createTurnRunner } from "../../src/conversation/turn.ts";
import { messages } from "../../src/db/schema.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant } from "../helpers/index.ts";

const scope = { channels: ["telegram"] as const };
let n = 0;
const tg = (text: string): InboundMessage => {
  n += 1;
  return {
    channel: "telegram",
    externalId: `reset-${n}-${crypto.randomUUID()}`,
    chatId: "1001",
    text,
    senderName: "Owner",
    media: [],
    receivedAtMs: Date.now(),
  };
};

/**
 * Two "processes" (two contexts, two dispatchers with distinct owner ids) on one database file; a
 * customer's /reset arrives while a run holds the tenant's lease.
 */
for (const driver of ["bun-sqlite", "libsql"] as const)
  describe(`/reset while a run is in flight (${driver})`, () => {
    let fa: TestContext;
    let fb: TestContext;
    let a: AppContext;
    let b: AppContext;
    const dispatchers: Dispatcher[] = [];
    let replies: OutboundReply[];
    let requests: AgentRunRequest[];
    let live = 0;
    let maxLive = 0;
    let release!: () => void;

    const channel: Channel = { name: "telegram", maxLength: 4096, send: async () => ({ ok: true, externalId: "x" }) };
    const channels = new Map<ChannelName, Channel>([["telegram", channel]]);
    const outbox = { enqueue: async (r: OutboundReply) => (replies.push(r), [crypto.randomUUID()]) };

    /** The first run waits for release(); every run answers with a session id named after its prompt. */
    const runner: AgentRunner = {
      async run(req): Promise<AgentResult> {
        requests.push(req);
        live += 1;
        maxLive = Math.max(maxLive, live);
        try {
          if (requests.length === 1) await new Promise<void>((r) => (release = r));
          return {
            kind: "ok",
            text: `answer ${requests.length}`,
            sessionId: `sess-${requests.length}`,
            durationMs: 1,
            exitCode: 0,
          };
        } finally {
          live -= 1;
        }
      },
    };

    function start(ctx: AppContext): Dispatcher {
      const runBatch = createTurnRunner(ctx, { runner, outbox, channels, selfUrl: () => "http://127.0.0.1:1" });
      // Both share this test's pid: neither may judge the other dead.
      const d = createDispatcher(ctx, {
        ownerId: newOwnerId(),
        scope,
        runBatch,
        sweepIntervalMs: 20,
        isOwnerDead: () => false,
      });
      dispatchers.push(d);
      return d;
    }

    beforeEach(async () => {
      fa = await createTestContext({ driver, clock: { now: () => Date.now() }, env: { LEASE_TTL_MS: "3000" } });
      fb = await createTestContext({
        driver,
        dir: fa.dir,
        clock: { now: () => Date.now() },
        env: { LEASE_TTL_MS: "3000" },
      });
      a = fa.ctx;
      b = fb.ctx;
      replies = [];
      requests = [];
      live = 0;
      maxLive = 0;
    });
    afterEach(async () => {
      release?.();
      for (const d of dispatchers.splice(0)) await d.stop();
      await fb.cleanup();
      await fa.cleanup();
    });

    test("never two runs at once; the run in flight answers once and does not store its session id", async () => {
      const t = await insertTenant(a, { telegram_chat_id: "1001" });
      const da = start(a);
      const db = start(b);
      await da.start();
      await db.start();
      const pipelineA = createInboundPipeline(a, { outbox, channels, wake: da.wake });
      const pipelineB = createInboundPipeline(b, { outbox, channels, wake: db.wake });

      await pipelineA(tg("hello"));
      while (requests.length === 0) await Bun.sleep(5);
      await pipelineB(tg("/reset")); // the other process takes the /reset webhook
      await pipelineB(tg("after the reset"));
      db.wake();
      await Bun.sleep(200); // ten sweeps of both dispatchers while the first run holds on
      expect(requests).toHaveLength(1);
      release();
      while (requests.length < 2) await Bun.sleep(10);
      await da.idle();
      await db.idle();

      expect(maxLive).toBe(1);
      expect(requests.map((r) => r.sessionId)).toEqual([null, null]);
      expect(requests[1]!.prompt).toContain("after the reset");
      expect(replies.filter((r) => r.kind === "chat").map((r) => r.text)).toEqual(["answer 1", "answer 2"]);
      const rows = await a.db
        .select({ body: messages.body, status: messages.status })
        .from(messages)
        .where(and(eq(messages.direction, "in"), eq(messages.kind, "chat")));
      expect(rows.map((r) => r.status)).toEqual(["done", "done"]);
      // The run that started before the reset did not store its session; the one after it did.
      expect((await getSessionState(a.db, t.id))?.agent_session_id).toBe("sess-2");
    });
  });
