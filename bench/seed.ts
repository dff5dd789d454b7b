// Bulk seeding of a migrated ProxyStaff database with bun:sqlite (one transaction per table), for the scale benchmark.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../test/helpers/index.ts";

export interface SeedCounts {
  tenants: number;
  messages: number;
  tasks: number;
}

/** Runs `proxystaff migrate` for this environment (creates the database file). */
export function migrate(env: Record<string, string>): void {
  const r = Bun.spawnSync([process.execPath, join(REPO_ROOT, "src/main.ts"), "migrate"], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`migrate failed: ${r.stderr.toString()}`);
}

/** The tenant id and chat id of seeded tenant i (deterministic, so the benchmark can address them). */
export function seededTenant(i: number): { id: string; chatId: number } {
  const hex = i.toString(16).padStart(12, "0");
  return { id: `5eed0000-0000-4000-8000-${hex}`, chatId: 8_000_000 + i };
}

/**
 * Fills the database: `tenants` linked LIVE tenants (with a session row each), `messages` stored messages spread
 * evenly over them (half inbound `done`, half outbound `sent`, over the past 60 days), `tasks` PENDING one-shot tasks
 * due between an hour and 30 days from now. Creates the workspace folder of the first `workspaces` tenants.
 */
export function seedDatabase(dbPath: string, tenantsDir: string, counts: SeedCounts, workspaces: number): void {
  const db = new Database(dbPath);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -200000");
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  db.transaction(() => {
    const tenant = db.prepare(
      "INSERT INTO tenants (id, name, phone_number, channel, telegram_chat_id, status, onboarding_status, timezone, business, created_at, updated_at) VALUES (?, ?, ?, 'telegram', ?, 'ACTIVE', 'LIVE', 'UTC', '{}', ?, ?)",
    );
    const session = db.prepare(
      "INSERT INTO conversation_sessions (tenant_id, agent_session_id, updated_at) VALUES (?, ?, ?)",
    );
    for (let i = 0; i < counts.tenants; i++) {
      const { id, chatId } = seededTenant(i);
      const created = iso(now - 90 * 86_400_000);
      tenant.run(id, `Seeded business ${i}`, `+1555${String(i).padStart(7, "0")}`, String(chatId), created, created);
      session.run(id, crypto.randomUUID(), created);
    }
  })();
  db.transaction(() => {
    const message = db.prepare(
      "INSERT INTO messages (id, tenant_id, direction, channel, chat_id, external_id, kind, body, status, attempts, reply_to, created_at, processed_at) VALUES (?, ?, ?, 'telegram', ?, ?, 'chat', ?, ?, 1, ?, ?, ?)",
    );
    const spanMs = 60 * 86_400_000;
    let lastIn = "";
    for (let m = 0; m < counts.messages; m++) {
      const t = seededTenant(m % counts.tenants);
      const at = iso(now - spanMs + Math.floor((m / counts.messages) * spanMs));
      const id = crypto.randomUUID();
      if (m % 2 === 0) {
        message.run(
          id,
          t.id,
          "in",
          String(t.chatId),
          `seed-${m}`,
          `Can you move my 3pm appointment to Thursday? (${m})`,
          "done",
          null,
          at,
          at,
        );
        lastIn = id;
      } else {
        message.run(
          id,
          t.id,
          "out",
          String(t.chatId),
          `out-${m}`,
          `Done — Thursday 3pm is booked for you. (${m})`,
          "sent",
          lastIn,
          at,
          at,
        );
      }
    }
  })();
  db.transaction(() => {
    const task = db.prepare(
      "INSERT INTO scheduled_tasks (id, tenant_id, prompt, run_at, timezone, next_run_at, status, attempts, created_by, paused, created_at, updated_at) VALUES (?, ?, ?, ?, 'UTC', ?, 'PENDING', 0, 'admin', 0, ?, ?)",
    );
    for (let k = 0; k < counts.tasks; k++) {
      const t = seededTenant(k % counts.tenants);
      const due = iso(now + 3_600_000 + Math.floor((k / counts.tasks) * 30 * 86_400_000));
      task.run(crypto.randomUUID(), t.id, `Send the weekly summary (${k})`, due, due, iso(now), iso(now));
    }
  })();
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  for (let i = 0; i < workspaces; i++) mkdirSync(join(tenantsDir, seededTenant(i).id), { recursive: true });
}
