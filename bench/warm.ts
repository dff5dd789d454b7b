// Warm agents (issue 14): the real Claude CLI against the loopback fake Anthropic API, through a real server.
// Follow-up messages in one conversation, cold (AGENT_WARM=off: a fresh `claude -p --resume` per message) against
// warm (AGENT_WARM=on: the tenant's kept stream-json process), in the same run; then the memory of a full pool.
import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { startFakeAnthropic } from "../test/fakes/anthropic.ts";
import type { Benchmark, BenchRow } from "./harness.ts";
import { fmt, percentile, row } from "./harness.ts";
import type { BenchServer, LinkedTenant } from "./stack.ts";
import { baseEnv, createLinkedTenants, postUpdate, startBenchServer, textUpdateBody } from "./stack.ts";
import { readStandInEvents, wallNowMs, writeStandInAgent } from "./stand-in.ts";
import { benchDir, REAL_CLI, rssMiB } from "./support.ts";
import type { TelegramSink } from "./telegram-sink.ts";
import { startTelegramSink } from "./telegram-sink.ts";

const FOLLOW_UPS = Number(process.env.BENCH_WARM_FOLLOW_UPS ?? 8);
const POOL_SIZE = 4;

export const warm: Benchmark = {
  name: "warm",
  title: "Warm agents (issue 14)",
  description:
    "Real Claude CLI, loopback fake Anthropic API (answers at once), a real server with " +
    "Telegram webhooks: one tenant sends a first message, then follow-ups one after another (each sent when the " +
    "previous reply arrived); webhook → reply at the Telegram sink, median and p99 of the follow-ups. Baseline: the " +
    "same follow-ups with AGENT_WARM=off (a fresh `claude -p --resume` per message), same run. Memory: RSS of the " +
    `server plus its warm processes with AGENT_WARM_MAX=${POOL_SIZE} tenants warm.`,
  async run() {
    if (!existsSync(REAL_CLI)) return { rows: [], notes: ["The Claude CLI is not installed (npm install): no rows."] };
    const dir = benchDir("warm");
    // Runs execute as their tenant's uid (root server): it must pass through the bench folder (mkdtemp makes it 0700).
    chmodSync(dir, 0o711);
    const sink = startTelegramSink();
    const anthropic = startFakeAnthropic({ defaultReply: { type: "text", text: "Hello from the fake model." } });
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    try {
      const env = (mode: "on" | "off") =>
        baseEnv(join(dir, mode), 0, sink.url, sink.token, {
          ANTHROPIC_BASE_URL: anthropic.url,
          ANTHROPIC_API_KEY: "sk-ant-bench-fake",
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
          ENABLE_TOOL_SEARCH: "false",
          DISABLE_AUTOUPDATER: "1",
          AGENT_TIMEOUT_MS: "120000",
          AGENT_WARM: mode,
          AGENT_WARM_MAX: String(POOL_SIZE),
        });
      const cold = await withServer(join(dir, "off"), env("off"), async (server) => {
        const [tenant] = await createLinkedTenants(server, 1, 8_100_000);
        return followUps(server, sink, tenant!);
      });
      let memory: { serverMiB: number; warmMiB: number; processes: number } | null = null;
      const hot = await withServer(join(dir, "on"), env("on"), async (server) => {
        const tenants = await createLinkedTenants(server, POOL_SIZE, 8_200_000);
        const times = await followUps(server, sink, tenants[0]!);
        for (const [i, tenant] of tenants.slice(1).entries()) await message(server, sink, tenant, 9_000_000 + i, "hi");
        const health = (await (await fetch(`${server.url}/health`)).json()) as {
          agent_warm?: { processes: number; rss_bytes: number };
        };
        memory = {
          serverMiB: rssMiB(server.pid),
          warmMiB: (health.agent_warm?.rss_bytes ?? 0) / 1024 / 1024,
          processes: health.agent_warm?.processes ?? 0,
        };
        return times;
      });
      const coldP50 = percentile(cold, 50);
      const warmP50 = percentile(hot, 50);
      rows.push(
        row(
          "warm",
          {
            case: `follow-up message, webhook → reply, p50 of ${FOLLOW_UPS} (real CLI, fake API)`,
            value: `${fmt(warmP50, 0)} ms warm`,
            baseline: `${fmt(coldP50, 0)} ms cold (--resume)`,
            ratio: fmt(warmP50 / coldP50, 2),
            target: "≤ 0.15",
          },
          warmP50 / coldP50 <= 0.15,
        ),
        row("warm", {
          case: `follow-up message, p99 of ${FOLLOW_UPS}`,
          value: `${fmt(percentile(hot, 99), 0)} ms warm`,
          baseline: `${fmt(percentile(cold, 99), 0)} ms cold`,
          ratio: fmt(percentile(hot, 99) / percentile(cold, 99), 2),
          target: "—",
        }),
      );
      const m = memory as { serverMiB: number; warmMiB: number; processes: number } | null;
      if (m) {
        rows.push(
          row("warm", {
            case: `RSS: server + ${m.processes} warm processes (AGENT_WARM_MAX=${POOL_SIZE})`,
            value: `${fmt(m.serverMiB + m.warmMiB, 0)} MiB`,
            baseline: `${fmt(m.serverMiB, 0)} MiB server alone`,
            ratio: `${fmt(m.warmMiB / Math.max(1, m.processes), 0)} MiB per warm process`,
            target: "—",
          }),
        );
      }
      notes.push(
        "The fake API answers at once (a few ms), so the times are the platform's and the CLI's overhead. A warm " +
          "follow-up skips the CLI's start (Node, CLI initialisation, MCP connect) and the transcript reload; what is " +
          "left is the webhook, the queue, the turn's reads (tenant, credentials, CLAUDE.md, fingerprint) and one " +
          "streamed request. A warm follow-up starts no child process: the disk usage is reused for 10 s below half " +
          "the quota (a small tree is measured in process otherwise) and the recursive chown is skipped (the " +
          "server creates workspace files with the folder's owner).",
      );
      rows.push(...(await overheadIn(dir, sink)));
      notes.push(
        'Overhead "in" uses bench/stand-in.ts, which speaks stream-json when started with `--input-format ' +
          'stream-json` (its "start" is logged when the turn\'s first byte can be read; bash reads a pipe one byte per ' +
          "read(2), ~0.15 ms for a turn's line, which is the stand-in's cost), so no model or CLI time is in it. " +
          "Fairness with warm processes: `BENCH_AGENT_WARM=on npm run bench -- fairness` (bench/fairness.ts runs the stand-in cold by default).",
      );
      return { rows, notes };
    } finally {
      await anthropic.stop();
      await sink.stop();
    }
  },
};

const IN_TENANTS = 20;
const IN_FOLLOW_UPS = 5;

/** Webhook → the turn written to the agent (the stand-in's start), for follow-ups: warm against cold, same run. */
export async function overheadIn(dir: string, sink: TelegramSink): Promise<BenchRow[]> {
  const floor: number[] = [];
  const floorAfterIdle: number[] = [];
  const measure = async (mode: "on" | "off"): Promise<number[]> => {
    const events = join(dir, `in-${mode}`, "events.log");
    const agent = writeStandInAgent(join(dir, `in-${mode}`), { eventsFile: events });
    const env = baseEnv(join(dir, `in-${mode}`), 0, sink.url, sink.token, {
      AGENT_COMMAND: agent,
      AGENT_WARM: mode,
      AGENT_WARM_MAX: String(IN_TENANTS),
    });
    return withServer(join(dir, `in-${mode}`), env, async (server) => {
      const tenants = await createLinkedTenants(server, IN_TENANTS, mode === "on" ? 8_300_000 : 8_400_000);
      const samples: number[] = [];
      let update = mode === "on" ? 5_000_000 : 6_000_000;
      for (const tenant of tenants) {
        await message(server, sink, tenant, update++, "first");
        for (let i = 0; i < IN_FOLLOW_UPS; i++) {
          const sentMs = wallNowMs();
          await message(server, sink, tenant, update++, `follow-up ${i}`);
          const start = readStandInEvents(events)
            .filter((e) => e.kind === "start" && e.tenantId === tenant.id && e.atMs >= sentMs)
            .at(0);
          if (start) samples.push(start.atMs - sentMs);
        }
      }
      // The transport alone: round trips of a request the server answers at once (404), to the same server, back to
      // back and after 20 ms idle (a process that slept must be woken: on this VM that alone costs ~0.4 ms).
      if (mode === "on")
        for (let i = 0; i < 200; i++) {
          if (i >= 100) await Bun.sleep(20);
          const sentMs = wallNowMs();
          await (
            await fetch(`${server.url}/no-such-route`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: textUpdateBody(7_000_000 + i, 1, "a webhook's body"),
            })
          ).arrayBuffer();
          (i < 100 ? floor : floorAfterIdle).push(wallNowMs() - sentMs);
        }
      return samples;
    });
  };
  const hot = await measure("on");
  const cold = await measure("off");
  const n = hot.length;
  return [
    row(
      "warm",
      {
        case: `overhead "in" (webhook → turn written to the agent), follow-ups, p50 of ${n} (stand-in)`,
        value: `${fmt(percentile(hot, 50), 2)} ms warm`,
        baseline: `${fmt(percentile(cold, 50), 2)} ms cold`,
        ratio: fmt(percentile(hot, 50) / percentile(cold, 50), 2),
        target: "< 3 ms",
      },
      percentile(hot, 50) < 3,
    ),
    row(
      "warm",
      {
        case: `overhead "in", follow-ups, p99 of ${n} (stand-in)`,
        value: `${fmt(percentile(hot, 99), 2)} ms warm`,
        baseline: `${fmt(percentile(cold, 99), 2)} ms cold`,
        ratio: fmt(percentile(hot, 99) / percentile(cold, 99), 2),
        target: "< 15 ms",
      },
      percentile(hot, 99) < 15,
    ),
    row("warm", {
      case: "HTTP round trip of a webhook-sized POST answered at once (404), same server, p50 of 100",
      value: `${fmt(percentile(floor, 50), 2)} ms back to back`,
      baseline: `${fmt(percentile(floorAfterIdle, 50), 2)} ms after 20 ms idle`,
      ratio: fmt(percentile(floorAfterIdle, 50) / percentile(floor, 50), 2),
      target: "—",
    }),
  ];
}

async function withServer<T>(
  dir: string,
  env: Record<string, string>,
  body: (server: BenchServer) => Promise<T>,
): Promise<T> {
  const server = await startBenchServer({ dir, env });
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

/** A first message (not counted), then FOLLOW_UPS follow-ups, each after the previous reply: send → reply times. */
async function followUps(server: BenchServer, sink: TelegramSink, tenant: LinkedTenant): Promise<number[]> {
  await message(server, sink, tenant, 4_000_000, "first");
  const times: number[] = [];
  for (let i = 1; i <= FOLLOW_UPS; i++)
    times.push(await message(server, sink, tenant, 4_000_000 + i, `follow-up ${i}`));
  return times;
}

async function message(
  server: BenchServer,
  sink: TelegramSink,
  tenant: LinkedTenant,
  updateId: number,
  text: string,
): Promise<number> {
  const before = sink.sent.length;
  const sentMs = wallNowMs();
  const res = await postUpdate(server.url, textUpdateBody(updateId, tenant.chatId, text));
  await res.arrayBuffer();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const reply = sink.sent.slice(before).find((m) => m.chatId === String(tenant.chatId));
    if (reply) return reply.atMs - sentMs;
    if (Date.now() > deadline) throw new Error(`no reply to "${text}" (see ${server.dir}/server.log)`);
    await Bun.sleep(2);
  }
}
