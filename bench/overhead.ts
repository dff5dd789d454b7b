// overhead: the platform's own latency around one agent run, per message.
//   in:  webhook sent by the load generator -> the agent process is running (the stand-in's first statement)
//   out: the agent process wrote its answer and exits -> the reply arrives at the fake Telegram
// Baseline: the same stand-in started directly with Bun.spawn from this process (the floor of "spawn a
// process and read its answer" on this machine).
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startFakeAnthropic } from "../test/fakes/anthropic.ts";
import { gatewayRequestRows } from "./gateway.ts";
import type { Benchmark, BenchResult, BenchRow } from "./harness.ts";
import { fmt, percentile, row } from "./harness.ts";
import type { BenchServer, LinkedTenant } from "./stack.ts";
import { baseEnv, createLinkedTenants, postUpdate, startBenchServer, textUpdateBody } from "./stack.ts";
import { readStandInEvents, standInRuns, wallNowMs, writeStandInAgent } from "./stand-in.ts";
import { benchDir, hasWorkingBwrap, REAL_CLI } from "./support.ts";
import type { TelegramSink } from "./telegram-sink.ts";
import { startTelegramSink } from "./telegram-sink.ts";

const MESSAGES = 1000;
const TENANTS = 100;
const WARMUP = 100;
const SANDBOX_MESSAGES = 200;
const REAL_CLI_MESSAGES = 10;
/** Replies that were not the stand-in's answer (a run the platform classified as failed). */
let failedRuns = 0;

interface Sample {
  sentMs: number;
  replyMs: number;
  startMs: number;
  endMs: number;
}

/** Sends messages one at a time (round-robin over tenants), each after the previous reply arrived. */
async function sequential(
  server: BenchServer,
  sink: TelegramSink,
  tenants: LinkedTenant[],
  count: number,
  firstUpdateId: number,
): Promise<{ sentMs: number; replyMs: number }[]> {
  const out: { sentMs: number; replyMs: number }[] = [];
  for (let i = 0; i < count; i++) {
    const tenant = tenants[i % tenants.length]!;
    const tag = `m:${firstUpdateId + i}`;
    const reply = new Promise<number>((resolve) => {
      sink.onSent = (m) => {
        if (m.chatId !== String(tenant.chatId)) return;
        if (!m.text.includes(tag)) failedRuns++; // the "something went wrong" reply of a failed run
        resolve(m.atMs);
      };
    });
    const sentMs = wallNowMs();
    const res = await postUpdate(server.url, textUpdateBody(firstUpdateId + i, tenant.chatId, `hello ${tag}`));
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
    const replyMs = await withTimeout(reply, 30_000, `reply to ${tag}`);
    out.push({ sentMs, replyMs });
  }
  sink.onSent = undefined;
  return out;
}

/** Stand-in runs in start order, from every events file under the tenants folder (sandboxed runs write there). */
function runsIn(server: BenchServer, sharedEvents: string | null) {
  const events = sharedEvents
    ? readStandInEvents(sharedEvents)
    : readdirSync(server.tenantsDir).flatMap((id) =>
        readStandInEvents(join(server.tenantsDir, id, ".stand-in-events")),
      );
  return standInRuns(events.sort((a, b) => a.atMs - b.atMs)).sort((a, b) => a.startMs - b.startMs);
}

/** One measured server: messages sent one by one, matched to the stand-in's runs in order. */
async function measureServer(
  label: string,
  dir: string,
  env: Record<string, string>,
  sink: TelegramSink,
  messages: number,
  sharedEvents: string | null,
): Promise<Sample[]> {
  const server = await startBenchServer({ dir, env });
  try {
    const tenants = await createLinkedTenants(server, TENANTS);
    await sequential(server, sink, tenants, WARMUP, 1_000_000);
    const sent = await sequential(server, sink, tenants, messages, 2_000_000);
    const runs = runsIn(server, sharedEvents);
    // Messages go one at a time: a message's run is the one that started between its send and its reply.
    const samples = sent.flatMap((s) => {
      const run = runs.find((r) => r.startMs >= s.sentMs && r.startMs <= s.replyMs && r.endMs !== undefined);
      return run ? [{ ...s, startMs: run.startMs, endMs: run.endMs! }] : [];
    });
    if (samples.length < sent.length * 0.95)
      throw new Error(`${label}: only ${samples.length} of ${sent.length} messages had an agent run`);
    return samples;
  } finally {
    await server.stop();
  }
}

/** The baseline: Bun.spawn of the same stand-in, in a workspace-like folder, stdout read, exit awaited. */
async function directSpawn(agent: string, dir: string, count: number, events: string): Promise<Sample[]> {
  const workspace = join(dir, "direct-tenant");
  mkdirSync(workspace, { recursive: true });
  const samples: { sentMs: number; replyMs: number }[] = [];
  for (let i = 0; i < count; i++) {
    const sentMs = wallNowMs();
    const proc = Bun.spawn([agent, "-p", `hello m:${i}`, "--output-format", "json"], {
      cwd: workspace,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const out = await new Response(proc.stdout).text();
    await proc.exited;
    if (!out.includes('"result"')) throw new Error("stand-in gave no result");
    samples.push({ sentMs, replyMs: wallNowMs() });
  }
  const runs = standInRuns(readStandInEvents(events));
  return samples.map((s, i) => ({ ...s, startMs: runs[i]!.startMs, endMs: runs[i]!.endMs ?? Number.NaN }));
}

const inMs = (s: Sample) => s.startMs - s.sentMs;
const outMs = (s: Sample) => s.replyMs - s.endMs;
const e2eMs = (s: Sample) => s.replyMs - s.sentMs;

function percentileRows(
  what: string,
  samples: Sample[],
  base: Sample[],
  pick: (s: Sample) => number,
  targets: Record<number, number>,
): BenchRow[] {
  return [50, 95, 99].map((p) => {
    const value = percentile(samples.map(pick), p);
    const baseline = percentile(base.map(pick), p);
    const target = targets[p];
    return row(
      "overhead",
      {
        case: `${what} p${p}`,
        value: `${fmt(value, 2)} ms`,
        baseline: `${fmt(baseline, 2)} ms`,
        ratio: `${fmt(value / baseline, 1)}×`,
        target: target ? `< ${target} ms` : "—",
      },
      target ? value < target : undefined,
    );
  });
}

/** Where the "in" latency goes (server log timestamps per step, a direct spawn of the wrapper chain, a CPU profile). */
const OVERHEAD_FINDINGS =
  "Fixed on 2026-11-26 (p50 of \"in\" ~9–10 ms → ~6 ms in alternating runs on this machine): `prlimit` is no longer exec'd — the run's `/bin/sh` wrapper (which enters the run's cgroup) sets RLIMIT_NPROC/RLIMIT_AS with `ulimit` (/bin/true through the chain: 3.2 → 2.4 ms p50); the prompt's and the timeline's `Intl.DateTimeFormat` are built once per zone (formatPrompt 0.4 ms → 6 µs); the CLAUDE.md check is skipped while the tenant's row and the file are unchanged; the pipeline's statements are prepared; `repliesTo` uses an index. " +
  "Where \"in\" goes now (server log timestamps per step, 1,000 messages, p50): webhook sent → row stored ≈ 0.7 ms; stored → turn started (dispatcher wake, lease, claim, session read) ≈ 1 ms (p95 2); turn started → agent process running ≈ 4.3 ms (p95 6.9). Of that last step ~2.4 ms is creating processes: `/bin/sh` (cgroup entry, ulimit) → `setpriv --pdeathsig` → the agent, against 1.2 ms for the baseline's direct spawn of the same stand-in; the rest is the run's cgroup (mkdir + pids.max in cgroupfs), the vault read and the tenant's .env, the typing indicator request and the CLAUDE.md stat. " +
  "p50 < 3 ms is below what a fresh process per message reaches here — the bare spawn is 1.2 ms and the webhook and queue steps ~1.7 ms before any run set-up; the warm CLI processes planned next (one kept per active tenant) take the spawn off the path. p99 follows the load of this shared 2-core machine.";

export const overhead: Benchmark = {
  name: "overhead",
  description: `Per message, the platform's own latency around one agent run: **in** = webhook POST sent by the load generator (an upper bound on its receipt: one loopback HTTP hop earlier) → the agent process running (first statement of the stand-in, \`$EPOCHREALTIME\`, same wall clock), **out** = the agent wrote its answer → the reply arrives at the fake Telegram (wall clock on arrival). ${MESSAGES} messages across ${TENANTS} tenants, sent one at a time (each after the previous reply arrived, so no queueing is counted) after ${WARMUP} warm-up messages. The stand-in agent is a bash script answering valid CLI JSON at once. Baseline: the same stand-in started ${MESSAGES} times with \`Bun.spawn\` straight from the benchmark process (in = spawn call → first statement, out = answer written → stdout read and exit seen).`,
  async run(): Promise<BenchResult> {
    const dir = benchDir("overhead");
    const sink = startTelegramSink();
    const notes: string[] = [];
    try {
      const events = join(dir, "events.log");
      const agent = writeStandInAgent(dir, { eventsFile: events });
      const env = (sub: string, extra: Record<string, string> = {}) =>
        baseEnv(join(dir, sub), 0, sink.url, sink.token, { AGENT_COMMAND: agent, ...extra });
      const samples = await measureServer("proxystaff", join(dir, "server"), env("server"), sink, MESSAGES, events);
      const baseEvents = join(dir, "direct-events.log");
      const base = await directSpawn(
        writeStandInAgent(join(dir, "direct"), { eventsFile: baseEvents }),
        dir,
        MESSAGES,
        baseEvents,
      );
      if (failedRuns > 0)
        notes.push(
          `${failedRuns} of the runs failed and were answered with the failure reply (see the report on per-run cgroups); they are still counted.`,
        );
      const rows = [
        ...percentileRows("in: webhook → agent running", samples, base, inMs, { 50: 3, 99: 15 }),
        ...percentileRows("out: agent answered → reply at Telegram", samples, base, outMs, { 50: 3, 99: 15 }),
        ...percentileRows("end to end (stand-in agent)", samples, base, e2eMs, {}),
      ];
      if (rows.some((r) => r.verdict === "missed")) notes.push(OVERHEAD_FINDINGS);

      if (await hasWorkingBwrap()) {
        const sandboxAgent = writeStandInAgent(join(dir, "sandboxed"), { eventsFile: ".stand-in-events" });
        const sandboxEnv = baseEnv(join(dir, "bwrap"), 0, sink.url, sink.token, {
          AGENT_COMMAND: sandboxAgent,
          AGENT_SANDBOX: "bwrap",
        });
        const boxed = await measureServer("bwrap", join(dir, "bwrap"), sandboxEnv, sink, SANDBOX_MESSAGES, null);
        const plain = samples.slice(0, SANDBOX_MESSAGES);
        for (const [what, pick] of [
          ["in, with bwrap sandbox", inMs],
          ["out, with bwrap sandbox", outMs],
        ] as const) {
          const value = percentile(boxed.map(pick), 50);
          const baseline = percentile(plain.map(pick), 50);
          rows.push(
            row("overhead", {
              case: `${what} p50 (${SANDBOX_MESSAGES} msgs)`,
              value: `${fmt(value, 2)} ms`,
              baseline: `${fmt(baseline, 2)} ms (AGENT_SANDBOX=none)`,
              ratio: `${fmt(value / baseline, 1)}×`,
              target: "—",
            }),
          );
        }
        notes.push(
          `The bwrap rows run the same stand-in inside the sandbox (\`AGENT_SANDBOX=bwrap\`); their baseline is the unsandboxed run above (first ${SANDBOX_MESSAGES} messages).`,
        );
      } else {
        notes.push(
          "bubblewrap is not installed or does not work here: no sandbox rows (`apt-get install -y bubblewrap`).",
        );
      }

      const gatewayRows = await gatewayRequestRows(dir);
      rows.push(...gatewayRows.rows);
      notes.push(...gatewayRows.notes);

      if (existsSync(REAL_CLI)) {
        const anthropic = startFakeAnthropic({ defaultReply: { type: "text", text: "Hello from the fake model." } });
        try {
          // The same real-CLI runs through the model gateway (MODEL_GATEWAY=on, the default) and without it,
          // one message at a time, the two servers alternating so both see the same machine load.
          const servers = [];
          for (const mode of ["on", "off"] as const) {
            const cliEnv = baseEnv(join(dir, `real-cli-${mode}`), 0, sink.url, sink.token, {
              ANTHROPIC_BASE_URL: anthropic.url,
              ANTHROPIC_API_KEY: "sk-ant-bench-fake",
              CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
              ENABLE_TOOL_SEARCH: "false",
              DISABLE_AUTOUPDATER: "1",
              MODEL_GATEWAY: mode,
            });
            const server = await startBenchServer({ dir: join(dir, `real-cli-${mode}`), env: cliEnv });
            servers.push({ mode, server, tenants: await createLinkedTenants(server, REAL_CLI_MESSAGES) });
          }
          try {
            const times = new Map<string, number[]>([
              ["on", []],
              ["off", []],
            ]);
            for (let i = 0; i < REAL_CLI_MESSAGES; i++) {
              for (const { mode, server, tenants } of servers) {
                const [ms] = await sequentialReal(server, sink, [tenants[i]!], 3_000_000 + i * 10);
                times.get(mode)!.push(ms!);
              }
            }
            const on = percentile(times.get("on")!, 50);
            const off = percentile(times.get("off")!, 50);
            rows.push(
              row("overhead", {
                case: `end to end with the real Claude CLI (fake API), median of ${REAL_CLI_MESSAGES}`,
                value: `${fmt(on, 0)} ms`,
                baseline: `${fmt(percentile(samples.map(e2eMs), 50), 2)} ms (stand-in)`,
                ratio: `${fmt(on / percentile(samples.map(e2eMs), 50), 0)}×`,
                target: "—",
              }),
              row("overhead", {
                case: `real Claude CLI through the model gateway vs MODEL_GATEWAY=off, median of ${REAL_CLI_MESSAGES}`,
                value: `${fmt(on, 0)} ms (gateway on)`,
                baseline: `${fmt(off, 0)} ms (MODEL_GATEWAY=off)`,
                ratio: `${fmt(on / off, 2)}×`,
                target: "—",
              }),
            );
            notes.push(
              "The real-CLI row is the cost of a fresh `claude -p` process per message (Node start-up, CLI initialisation, one streamed request to the loopback fake API): it dwarfs the platform's own overhead, which is why warm CLI processes are the next step. The gateway-vs-off row runs the same messages through two servers, alternating, one with the model gateway and one handing the CLI the key (MODEL_GATEWAY=off).",
            );
          } finally {
            for (const { server } of servers) await server.stop();
          }
        } finally {
          await anthropic.stop();
        }
      }
      return { rows, notes };
    } finally {
      await sink.stop();
    }
  },
};

/** Real CLI: one message per fresh tenant (no --resume), send → reply. */
async function sequentialReal(
  server: BenchServer,
  sink: TelegramSink,
  tenants: LinkedTenant[],
  firstUpdateId = 3_000_000,
): Promise<number[]> {
  const times: number[] = [];
  for (const [i, tenant] of tenants.entries()) {
    const before = sink.sent.length;
    const sentMs = wallNowMs();
    const res = await postUpdate(server.url, textUpdateBody(firstUpdateId + i, tenant.chatId, `hello real ${i}`));
    await res.arrayBuffer();
    const deadline = Date.now() + 60_000;
    while (!sink.sent.slice(before).some((m) => m.chatId === String(tenant.chatId))) {
      if (Date.now() > deadline) throw new Error("no reply from the real CLI run");
      await Bun.sleep(2);
    }
    const reply = sink.sent.slice(before).find((m) => m.chatId === String(tenant.chatId))!;
    times.push(reply.atMs - sentMs);
  }
  return times;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
