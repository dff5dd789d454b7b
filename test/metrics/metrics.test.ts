import { afterEach, describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { AgentResult } from "../../src/agent/runner.ts";
import type { Channel, ChannelName, InboundMessage, OutboundMessage, SendResult } from "../../src/channels/types.ts";
import { isoAt } from "../../src/clock.ts";
import type { AppContext } from "../../src/context.ts";
import type { Conversation } from "../../src/conversation/index.ts";
import { createConversation, createOutbox } from "../../src/conversation/index.ts";
import { insertInbound } from "../../src/conversation/message-store.ts";
import { acquireLease } from "../../src/conversation/session-store.ts";
import { metricsRoutes } from "../../src/http/health.ts";
import type { TestServer } from "../helpers/index.ts";
import { eventually, insertTenant, startTestServer } from "../helpers/index.ts";

/** A Telegram stand-in: the first send answers a retryable 502, every later one succeeds. */
function flakyTelegram(): Channel & { sent: OutboundMessage[] } {
  const sent: OutboundMessage[] = [];
  let calls = 0;
  return {
    name: "telegram",
    maxLength: 4096,
    sent,
    async send(message): Promise<SendResult> {
      calls += 1;
      if (calls === 1) return { ok: false, retryable: true, retryAfterMs: 20, error: "502 Bad Gateway" };
      sent.push(message);
      return { ok: true, externalId: `ext-${calls}` };
    },
  };
}

/** A stand-in agent whose runs wait for `release()` (so a second message stays queued meanwhile). */
function gatedRunner(): AgentRunner & { release(): void; runs: number } {
  let open: () => void = () => {};
  const gate = new Promise<void>((r) => (open = r));
  const runner = {
    runs: 0,
    release: () => open(),
    async run(): Promise<AgentResult> {
      runner.runs += 1;
      await gate;
      return { kind: "ok", text: "Done, boss.", sessionId: "sess-1", durationMs: 1500, exitCode: 0 };
    },
  };
  return runner;
}

interface Stack {
  server: TestServer;
  conversation: Conversation;
  telegram: ReturnType<typeof flakyTelegram>;
  runner: ReturnType<typeof gatedRunner>;
}

/** The conversation with a stand-in agent, the real outbox over a flaky channel, and /metrics, in a server. */
async function startStack(
  env: Record<string, string> = {},
  before?: (ctx: AppContext) => Promise<void>,
): Promise<Stack> {
  const telegram = flakyTelegram();
  const runner = gatedRunner();
  let conversation: Conversation | undefined;
  const server = await startTestServer({
    env,
    async build(ctx) {
      await before?.(ctx);
      const byName = new Map<ChannelName, Channel>([["telegram", telegram]]);
      const outbox = createOutbox(ctx, byName, { baseBackoffMs: 20, maxBackoffMs: 50, sweepMs: 500 });
      conversation = createConversation(ctx, { channels: { byName }, outbox, runner, sweepIntervalMs: 200 });
      return [{ routes: metricsRoutes(ctx), services: [outbox, ...conversation.services] }];
    },
  });
  return { server, conversation: conversation!, telegram, runner };
}

let n = 0;
const tg = (text: string, chatId = "1001", externalId = `m-${++n}`): InboundMessage => ({
  channel: "telegram",
  externalId,
  chatId,
  text,
  senderName: "Owner",
  media: [],
  receivedAtMs: Date.now(),
});

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

let stack: Stack | undefined;
afterEach(async () => {
  stack?.runner.release();
  await stack?.server.cleanup();
  stack = undefined;
});

describe("GET /metrics", () => {
  test("needs the admin key: 401 without it, 200 Prometheus text with it", async () => {
    stack = await startStack();
    const anonymous = await fetch(`${stack.server.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    const wrong = await fetch(`${stack.server.url}/metrics`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const res = await stack.server.adminFetch("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    for (const name of [
      "proxystaff_inbound_messages_total",
      "proxystaff_agent_runs_total",
      "proxystaff_agent_run_duration_seconds",
      "proxystaff_outbox_retries_total",
      "proxystaff_lease_recoveries_total",
      "proxystaff_scheduler_lag_seconds",
      "proxystaff_queue_depth",
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    // known label values exist at 0 before anything happened (alerts on increase() see the first event)
    expect(sample(text, 'proxystaff_agent_runs_total{result="credit_too_low"}')).toBe(0);
    expect(sample(text, 'proxystaff_inbound_messages_total{channel="whatsapp",outcome="rate_limited"}')).toBe(0);
    expect(sample(text, 'proxystaff_outbox_retries_total{channel="telegram"}')).toBe(0);
  });

  test("METRICS_PUBLIC=true serves it without the key (admin routes still need it)", async () => {
    stack = await startStack({ METRICS_PUBLIC: "true" });
    const res = await fetch(`${stack.server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("proxystaff_queue_depth");
    expect((await fetch(`${stack.server.url}/admin/anything`)).status).toBe(401);
  });

  test("counters move as messages go through pipeline, agent and outbox; queue depth is read at scrape time", async () => {
    stack = await startStack();
    const { server, conversation, telegram, runner } = stack;
    await insertTenant(server.ctx, { telegram_chat_id: "1001" });
    const scrape = async () => (await server.adminFetch("/metrics")).text();

    const first = tg("Book the van for Friday");
    await conversation.handleInbound(first);
    await conversation.handleInbound(first); // the platform redelivers: dropped
    await conversation.handleInbound(tg("hello?", "999")); // nobody linked this chat
    await conversation.handleInbound(tg("/help"));
    await eventually(() => runner.runs === 1, "the first run to start");
    await conversation.handleInbound(tg("and the trailer")); // waits: the tenant's run holds the lease
    expect(sample(await scrape(), "proxystaff_queue_depth")).toBe(1);

    runner.release();
    await eventually(() => telegram.sent.filter((m) => m.text === "Done, boss.").length === 2, "both answers sent");

    const text = await scrape();
    const inbound = (outcome: string) =>
      sample(text, `proxystaff_inbound_messages_total{channel="telegram",outcome="${outcome}"}`);
    expect(inbound("queued")).toBe(2);
    expect(inbound("duplicate")).toBe(1);
    expect(inbound("unknown_chat")).toBe(1);
    expect(inbound("command")).toBe(1);
    expect(sample(text, 'proxystaff_agent_runs_total{result="ok"}')).toBe(2);
    expect(sample(text, 'proxystaff_agent_run_duration_seconds_count{result="ok"}')).toBe(2);
    expect(sample(text, 'proxystaff_agent_run_duration_seconds_sum{result="ok"}')).toBe(3);
    expect(sample(text, 'proxystaff_agent_run_duration_seconds_bucket{le="2",result="ok"}')).toBe(2);
    expect(sample(text, 'proxystaff_outbox_retries_total{channel="telegram"}')).toBe(1);
    expect(sample(text, "proxystaff_queue_depth")).toBe(0);
    expect(sample(text, "proxystaff_lease_recoveries_total")).toBe(0);
  });

  test("rate-limited, paused and archived refusals are counted by reason", async () => {
    stack = await startStack({ RATE_LIMIT_PER_MINUTE: "1" });
    const { server, conversation } = stack;
    await insertTenant(server.ctx, { telegram_chat_id: "2001", onboarding_status: "PAUSED" });
    await insertTenant(server.ctx, { telegram_chat_id: "2002", status: "ARCHIVED" });
    await insertTenant(server.ctx, { telegram_chat_id: "2003" });
    await conversation.handleInbound(tg("hi", "2001"));
    await conversation.handleInbound(tg("hi", "2002"));
    await conversation.handleInbound(tg("one", "2003"));
    await conversation.handleInbound(tg("two", "2003"));
    const text = await (await server.adminFetch("/metrics")).text();
    const inbound = (outcome: string) =>
      sample(text, `proxystaff_inbound_messages_total{channel="telegram",outcome="${outcome}"}`);
    expect(inbound("paused")).toBe(1);
    expect(inbound("archived")).toBe(1);
    expect(inbound("queued")).toBe(1);
    expect(inbound("rate_limited")).toBe(1);
  });

  test("a run cut short by a dead process counts one lease recovery, and is run again", async () => {
    stack = await startStack({}, async (ctx) => {
      const tenant = await insertTenant(ctx, { telegram_chat_id: "3001" });
      const deadOwner = `${hostname()}:99999999:deadbeef0000`; // no such pid on this host
      await acquireLease(ctx.db, tenant.id, deadOwner, Date.now(), 600_000);
      for (const body of ["first", "second"]) {
        await insertInbound(ctx.db, {
          id: crypto.randomUUID(),
          tenant_id: tenant.id,
          channel: "telegram",
          chat_id: "3001",
          external_id: `dead-${body}`,
          body,
          status: "processing",
          lease_owner: deadOwner,
          created_at: isoAt(Date.now()),
        });
      }
    });
    stack.runner.release();
    await eventually(() => stack!.telegram.sent.length === 1, "the recovered run's answer");
    const text = await (await stack.server.adminFetch("/metrics")).text();
    expect(sample(text, "proxystaff_lease_recoveries_total")).toBe(1);
    expect(sample(text, 'proxystaff_agent_runs_total{result="ok"}')).toBe(1);
    expect(stack.runner.runs).toBe(1);
  });
});
