// Fault: the server is killed with SIGKILL at random moments under load and restarted each time. Every message
// the webhook accepted (answered 200) must end with exactly one reply at Telegram; none may get two.
import { expect, test } from "bun:test";
import { wallNowMs } from "../../bench/stand-in.ts";
import { freePort } from "../helpers/index.ts";
import type { BenchServer } from "./support.ts";
import {
  createLinkedTenants,
  postUpdate,
  queryDb,
  replyTally,
  settle,
  startFaultRig,
  tagCounts,
  textUpdateBody,
} from "./support.ts";

const MESSAGES = 300;
const TENANTS = 10;
const SENDERS = 4;
const KILLS = 10;
/** How long a request of a killed process may still be on its way to the fake Telegram. */
const ON_THE_WIRE_MS = 100;

test(`crash: ${KILLS}+ kill -9 under load, every accepted message answered exactly once`, async () => {
  const rig = startFaultRig("crash", "crash", { sleepMs: 30 });
  const { rand, sink } = rig;
  const port = await freePort();
  const env = rig.env({}, { port });
  let server: BenchServer = await rig.startServer(env, { port });
  const url = server.url;
  try {
    const tenants = await createLinkedTenants(server, TENANTS);
    const accepted = new Set<number>();
    let next = 0;
    const sender = async () => {
      while (next < MESSAGES) {
        const i = next++;
        const id = 60_000_000 + i;
        const body = textUpdateBody(id, tenants[i % TENANTS]!.chatId, `crash test m:${id}`);
        // Like Telegram: deliver again until the webhook answers 200 (a dead server, a cut connection, a 500).
        for (;;) {
          const res = await postUpdate(url, body).catch(() => null);
          if (res) await res.arrayBuffer().catch(() => {});
          if (res?.status === 200) break;
          await Bun.sleep(50);
        }
        accepted.add(id);
        await Bun.sleep(100 + Math.floor(rand() * 300));
      }
    };
    let kills = 0;
    const killedAt: number[] = [];
    const killer = async () => {
      while (kills < KILLS || next < MESSAGES) {
        await Bun.sleep(300 + Math.floor(rand() * 1200));
        killedAt.push(wallNowMs());
        await server.kill();
        kills++;
        server = await rig.startServer(env, { port });
      }
    };
    await Promise.all([killer(), ...Array.from({ length: SENDERS }, sender)]);

    // A reply claimed by a killed process waits for its outbox lease (60 s) before another process sends it.
    await settle(server.databaseUrl, "every accepted message to be answered", 100_000, 200, () => {
      const counts = tagCounts(sink);
      return [...accepted].every((id) => (counts.get(`m:${id}`) ?? 0) > 0);
    });
    const tally = await replyTally(sink, server.databaseUrl, accepted);
    // The one window no design closes: the reply reached Telegram and the process died before it could record
    // that (Telegram has no idempotency key), so the next process sends it again. Such a duplicate is ONE outbound
    // row sent twice (attempts ≥ 2) whose first copy arrived just before a kill; any other duplicate (e.g. the agent
    // run twice, two reply rows) is a bug.
    const inFlight: number[] = [];
    for (const id of tally.duplicated) {
      const [first = 0, second = Number.POSITIVE_INFINITY] = sink.sent
        .filter((m) => m.text.includes(`m:${id}`))
        .map((m) => m.atMs);
      const rows = await queryDb<{ attempts: number }>(
        server.databaseUrl,
        "SELECT attempts FROM messages WHERE direction = 'out' AND body LIKE ?",
        `%m:${id}%`,
      );
      const isOneRowResent = rows.length === 1 && rows[0]!.attempts >= 2;
      // The process that sent the first copy died before recording it: a kill falls between the two copies — or just
      // before the first arrived, the request still on the wire when SIGKILL went out (seen: the kill 4 ms before the
      // sink got the copy). A fixed window after the first copy was too tight on a loaded machine.
      if (isOneRowResent && killedAt.some((k) => k >= first - ON_THE_WIRE_MS && k <= second)) inFlight.push(id);
    }
    const unexplained = tally.duplicated.filter((id) => !inFlight.includes(id));
    // Enough to tell a resent row from a run twice (two reply rows) when this fails.
    for (const id of unexplained) {
      const sent = sink.sent.filter((m) => m.text.includes(`m:${id}`)).map((m) => m.atMs);
      const rows = await queryDb<{ id: string; status: string; attempts: number; created_at: string }>(
        server.databaseUrl,
        "SELECT id, status, attempts, created_at FROM messages WHERE direction = 'out' AND body LIKE ?",
        `%m:${id}%`,
      );
      const gaps = killedAt.map((k) => Math.round(k - (sent[0] ?? 0))).filter((g) => g >= -1000 && g <= 5000);
      console.log(
        `crash: m:${id} sent at ${JSON.stringify(sent)}; reply rows ${JSON.stringify(rows)}; kills at ${JSON.stringify(gaps)} ms from the first copy`,
      );
    }
    console.log(
      `crash: ${kills} kills, ${tally.total} messages, ${tally.answered} answered once, ${tally.failed} failed runs (customer told), ${tally.lost.length} lost, ${unexplained.length} duplicated (+${inFlight.length} sent while the process was killed before recording it)`,
    );
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    expect(tally.total).toBe(MESSAGES);
    expect(tally.lost).toEqual([]);
    expect(unexplained).toEqual([]);
  } finally {
    await rig.finish(server);
  }
}, 200_000);
