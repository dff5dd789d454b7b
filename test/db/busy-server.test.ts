// S7: another process holding the database's write lock (the runbook's sqlite3 shell in BEGIN IMMEDIATE)
// for 10 s must not freeze a real server: /health keeps answering fast, webhooks arriving meanwhile are
// answered 200 after a retry or 503 + Retry-After (never 500) and, redelivered like Telegram does, all stored.

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { STAND_IN } from "../agent/setup.ts";
import type { Fakes, ServerProcess } from "../e2e/stack.ts";
import { spawnServer, stackEnv, startFakes, WEBHOOK_SECRET } from "../e2e/stack.ts";
import { postTelegramWebhook, textUpdate } from "../fakes/telegram.ts";
import { fileDatabaseOnly, freePort, holdWriteLock } from "../helpers/index.ts";

const LOCK_MS = 10_000;
const WEBHOOKS = 12;

const fileOnly = fileDatabaseOnly("another process holds the database file's write lock");

describe.skipIf(fileOnly)("a write lock held by another process", () => {
  let fakes: Fakes;
  let server: ServerProcess;

  beforeAll(async () => {
    fakes = startFakes();
    // No agent run is needed (the chats are not linked): the stand-in CLI keeps the test off the real one.
    server = await spawnServer({ env: stackEnv(fakes, await freePort(), { AGENT_COMMAND: STAND_IN }) });
  });
  afterAll(async () => {
    await server?.cleanup();
    await fakes?.stop();
  }, 30_000);

  test("/health p99 stays under 100 ms and every webhook sent during the lock is stored once", async () => {
    const lock = await holdWriteLock(server.dbPath, LOCK_MS);
    const lockedUntil = performance.now() + LOCK_MS;
    const healthMs: number[] = [];
    const healthStatuses = new Set<number>();
    const sampleHealth = async () => {
      while (performance.now() < lockedUntil) {
        const started = performance.now();
        const res = await fetch(`${server.url}/health`);
        await res.arrayBuffer();
        healthMs.push(performance.now() - started);
        healthStatuses.add(res.status);
        await Bun.sleep(20);
      }
    };
    const statuses: number[] = [];
    /** Posts one update; on 503 waits Retry-After and delivers it again (as Telegram does), until 200. */
    const deliver = async (i: number) => {
      await Bun.sleep(i * 600);
      const update = { ...textUpdate({ chatId: 700100 + i, text: `during the lock ${i}` }), update_id: 900_000 + i };
      for (;;) {
        const res = await postTelegramWebhook(server.url, update, WEBHOOK_SECRET);
        statuses.push(res.status);
        if (res.status === 200) return;
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("database_busy");
        const retryAfterS = Number(res.headers.get("retry-after"));
        expect(retryAfterS).toBeGreaterThan(0);
        await Bun.sleep(retryAfterS * 1000);
      }
    };
    await Promise.all([sampleHealth(), ...Array.from({ length: WEBHOOKS }, (_, i) => deliver(i))]);
    await lock.released;

    healthMs.sort((a, b) => a - b);
    const p99 = healthMs[Math.min(healthMs.length - 1, Math.floor(healthMs.length * 0.99))]!;
    console.log(
      `/health during the lock: ${healthMs.length} samples, p50 ${healthMs[Math.floor(healthMs.length / 2)]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${healthMs.at(-1)!.toFixed(1)} ms; webhook answers ${JSON.stringify(statuses)}`,
    );
    expect(healthMs.length).toBeGreaterThan(100);
    expect(p99).toBeLessThan(100);
    expect(healthStatuses).toEqual(new Set([200]));
    expect(statuses).not.toContain(500);
    expect(statuses).toContain(503); // the lock outlasted the retry budget at least once

    const db = new Database(server.dbPath, { readonly: true });
    try {
      const rows = db
        .query("SELECT body FROM messages WHERE direction = 'in' AND body LIKE 'during the lock %'")
        .all() as { body: string }[];
      expect(rows.map((r) => r.body).sort()).toEqual(
        Array.from({ length: WEBHOOKS }, (_, i) => `during the lock ${i}`).sort(),
      );
    } finally {
      db.close();
    }
  }, 60_000);
});
