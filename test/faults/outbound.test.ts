// Fault: Telegram answers sendMessage with 429 (retry_after), 500 or a slow 504 (gateway timeout), at random, for a
// while. Every reply must still arrive exactly once; a chat that answers 403 (bot blocked) ends `failed` at once.
import { expect, test } from "bun:test";
import type { SinkFault } from "../../bench/telegram-sink.ts";
import { createLinkedTenants, postAccepted, queryDb, replyTally, settle, startFaultRig } from "./support.ts";

const TENANTS = 12;
const MESSAGES = 120;
const BLOCKED_MESSAGES = 3;
const FAULT_WINDOW_MS = 8_000;
const FAULT_RATE = 0.5;

test("outbound faults: 429/500/timeouts retried until delivered once; 403 fails without retrying", async () => {
  const rig = startFaultRig("outbound", "outbound", { sleepMs: 5 });
  const { rand, sink } = rig;
  const server = await rig.startServer(rig.env());
  try {
    const tenants = await createLinkedTenants(server, TENANTS + 1);
    const blocked = tenants[TENANTS]!;
    const faultsUntil = Date.now() + FAULT_WINDOW_MS;
    const kinds: SinkFault[] = ["429", "429", "500", "500", "timeout"];
    sink.setFaults((chatId) => {
      if (chatId === String(blocked.chatId)) return "403";
      if (Date.now() > faultsUntil || rand() >= FAULT_RATE) return "ok";
      return kinds[Math.floor(rand() * kinds.length)]!;
    });
    const accepted: number[] = [];
    for (let i = 0; i < MESSAGES + BLOCKED_MESSAGES; i++) {
      const id = 80_000_000 + i;
      const isBlocked = i >= MESSAGES;
      const tenant = isBlocked ? blocked : tenants[i % TENANTS]!;
      await postAccepted(server.url, id, tenant.chatId, `outbound m:${id}`);
      if (!isBlocked) accepted.push(id);
      await Bun.sleep(Math.floor(rand() * 80));
    }
    await settle(server.databaseUrl, "every reply to be sent or failed", 90_000, 200);

    const tally = await replyTally(sink, server.databaseUrl, accepted);
    const blockedRows = await queryDb<{ status: string; attempts: number; error: string | null }>(
      server.databaseUrl,
      "SELECT status, attempts, error FROM messages WHERE direction = 'out' AND chat_id = ?",
      String(blocked.chatId),
    );
    const faults = sink.attempts["429"] + sink.attempts["500"] + sink.attempts.timeout;
    console.log(
      `outbound: ${faults} faults injected (429 ×${sink.attempts["429"]}, 500 ×${sink.attempts["500"]}, timeout ×${sink.attempts.timeout}), ${tally.total} replies, ${tally.answered} delivered once, ${tally.lost.length} lost, ${tally.duplicated.length} duplicated; 403: ${blockedRows.length} rows ${[...new Set(blockedRows.map((r) => r.status))].join("/")}, ${sink.attempts["403"]} attempts`,
    );
    expect(faults).toBeGreaterThan(0);
    expect(tally.lost).toEqual([]);
    expect(tally.duplicated).toEqual([]);
    expect(tally.failed).toBe(0);
    expect(blockedRows.length).toBeGreaterThan(0);
    for (const row of blockedRows) {
      expect(row.status).toBe("failed");
      expect(row.attempts).toBe(1);
      expect(row.error ?? "").not.toBe("");
    }
    expect(sink.attempts["403"]).toBe(blockedRows.length);
  } finally {
    await rig.finish(server);
  }
}, 150_000);
