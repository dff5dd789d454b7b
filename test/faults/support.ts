// Shared pieces of the fault suite: a seeded PRNG (FAULT_SEED replays a run), the bench stack (real server
// processes, the Telegram sink, the stand-in agent), and counting which inbound messages got which replies.
import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchServer } from "../../bench/stack.ts";
import { baseEnv, postUpdate, queryDb, startBenchServer, textUpdateBody, waitUntil } from "../../bench/stack.ts";
import type { StandInOptions } from "../../bench/stand-in.ts";
import { writeStandInAgent } from "../../bench/stand-in.ts";
import type { TelegramSink } from "../../bench/telegram-sink.ts";
import { startTelegramSink } from "../../bench/telegram-sink.ts";

export type { BenchServer, LinkedTenant } from "../../bench/stack.ts";
export {
  ADMIN_KEY,
  baseEnv,
  createLinkedTenants,
  postUpdate,
  queryDb,
  startBenchServer,
  textUpdateBody,
  waitUntil,
} from "../../bench/stack.ts";
export { readStandInEvents, standInRuns, writeStandInAgent } from "../../bench/stand-in.ts";
export type { TelegramSink } from "../../bench/telegram-sink.ts";
export { startTelegramSink } from "../../bench/telegram-sink.ts";

/** A deterministic PRNG (mulberry32) in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The run's seed: FAULT_SEED when set (to replay a failure), else a random one; printed either way. */
export function faultSeed(suite: string): { seed: number; rand: () => number } {
  const fromEnv = process.env.FAULT_SEED;
  const seed = fromEnv && /^\d+$/.test(fromEnv) ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  console.log(`${suite}: seed ${seed} (replay with FAULT_SEED=${seed})`);
  return { seed, rand: prng(seed) };
}

/** A temp folder for one fault test; remove() deletes it unless FAULT_KEEP=1. */
export function faultDir(name: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `proxystaff-fault-${name}-`));
  return {
    dir,
    remove() {
      if (process.env.FAULT_KEEP === "1") console.log(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One fault test's surroundings: its seeded PRNG, temp folder, Telegram sink and stand-in agent. */
export interface FaultRig {
  rand: () => number;
  dir: string;
  sink: TelegramSink;
  /** Path of the stand-in agent CLI (the servers' AGENT_COMMAND). */
  agent: string;
  /** Server environment: `baseEnv` for `<dir>/<shared>` (default `server`) pointed at the sink, AGENT_COMMAND, then `extra`. */
  env(extra?: Record<string, string>, options?: { port?: number; shared?: string }): Record<string, string>;
  /** Starts a server process working in `<dir>/<name>` (default `server`) and waits for /health 200. */
  startServer(env: Record<string, string>, options?: { port?: number; name?: string }): Promise<BenchServer>;
  /** Stops the servers, then the sink, and removes the folder (unless FAULT_KEEP=1). */
  finish(...servers: BenchServer[]): Promise<void>;
}

/**
 * Sets up a fault test: prints and seeds its PRNG (`faultSeed(suite)`), makes its temp folder (`faultDir(name)`),
 * starts the Telegram sink and writes the stand-in agent (`standIn` may be built from the folder's path).
 */
export function startFaultRig(
  suite: string,
  name: string,
  standIn: StandInOptions | ((dir: string) => StandInOptions),
): FaultRig {
  const { rand } = faultSeed(suite);
  const { dir, remove } = faultDir(name);
  const sink = startTelegramSink();
  const agent = writeStandInAgent(dir, typeof standIn === "function" ? standIn(dir) : standIn);
  return {
    rand,
    dir,
    sink,
    agent,
    env: (extra = {}, { port = 0, shared = "server" } = {}) =>
      baseEnv(join(dir, shared), port, sink.url, sink.token, { AGENT_COMMAND: agent, ...extra }),
    startServer: (env, { port, name: serverName = "server" } = {}) =>
      startBenchServer({ dir: join(dir, serverName), env, port }),
    async finish(...servers) {
      await Promise.all(servers.map((server) => server.stop()));
      await sink.stop();
      remove();
    },
  };
}

/**
 * Posts one text update to the webhook, drains the answer and expects 200 (accepted). A 5xx (503
 * `database_busy`: the database stayed locked for seconds, two processes writing through one sqld on a
 * loaded machine) is redelivered, as Telegram redelivers any non-2xx answer — the same update id, so dedupe
 * keeps it once. Anything but database_busy is printed: a 5xx the product should have classified.
 */
export async function postAccepted(baseUrl: string, updateId: number, chatId: number, text: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const res = await postUpdate(baseUrl, textUpdateBody(updateId, chatId, text));
    const body = await res.text();
    if (res.status >= 500 && attempt < 5) {
      if (!body.includes("database_busy"))
        console.log(`webhook answered ${res.status}, redelivered: ${body.slice(0, 300)}`);
      await Bun.sleep(250 * attempt);
      continue;
    }
    expect(res.status).toBe(200);
    return;
  }
}

/**
 * Waits until no inbound message is open, no reply is pending and `alsoDone()` holds, polling every `everyMs`;
 * after `limitMs` it gives up quietly — the test's assertions then say what is missing.
 */
export async function settle(
  databaseUrl: string,
  what: string,
  limitMs: number,
  everyMs: number,
  alsoDone: () => boolean = () => true,
): Promise<void> {
  await waitUntil(
    async () => {
      const work = await openWork(databaseUrl);
      return work.open === 0 && work.pending === 0 && alsoDone();
    },
    what,
    limitMs,
    everyMs,
  ).catch(() => {});
}

/** How often each `m:<tag>` appears across the sink's delivered replies. */
export function tagCounts(sink: TelegramSink): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of sink.sent) {
    for (const tag of message.text.match(/m:[A-Za-z0-9_.-]+/g) ?? []) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  return counts;
}

/** Inbound rows by Telegram update id (external_id): status and error. */
export async function inboundByUpdate(
  databaseUrl: string,
): Promise<Map<string, { status: string; error: string | null }>> {
  const rows = await queryDb<{ external_id: string; status: string; error: string | null }>(
    databaseUrl,
    "SELECT external_id, status, error FROM messages WHERE direction = 'in' AND channel = 'telegram'",
  );
  return new Map(rows.map((r) => [r.external_id, { status: r.status, error: r.error }]));
}

/** Counts of inbound messages not yet final and replies not yet sent. */
export async function openWork(databaseUrl: string): Promise<{ open: number; pending: number }> {
  const [r] = await queryDb<{ open: number; pending: number }>(
    databaseUrl,
    "SELECT (SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status IN ('queued', 'processing')) AS open, (SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'pending') AS pending",
  );
  return r ?? { open: 0, pending: 0 };
}

/**
 * Checks each accepted message: answered exactly once (its tag in one reply), or `failed` with an error (the
 * customer then got the failure reply, which carries no tag). Returns the tallies for the summary line.
 */
export async function replyTally(
  sink: TelegramSink,
  databaseUrl: string,
  accepted: Iterable<number>,
): Promise<{ total: number; answered: number; failed: number; lost: number[]; duplicated: number[] }> {
  const counts = tagCounts(sink);
  const rows = await inboundByUpdate(databaseUrl);
  const tally = { total: 0, answered: 0, failed: 0, lost: [] as number[], duplicated: [] as number[] };
  for (const id of accepted) {
    tally.total++;
    const n = counts.get(`m:${id}`) ?? 0;
    if (n === 1) tally.answered++;
    else if (n > 1) tally.duplicated.push(id);
    else if (rows.get(String(id))?.status === "failed" && rows.get(String(id))?.error) tally.failed++;
    else tally.lost.push(id);
  }
  return tally;
}
