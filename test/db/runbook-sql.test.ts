// The runbook's SQL (DESIGN "Data"), verbatim, against the database file of a running server.

import { Database } from "bun:sqlite";
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { fileDatabaseOnly, noBwrapEnv, SERVE_FIXTURE, spawnServer } from "../helpers/index.ts";

// These tests start real processes; give them room even when run alone with plain `bun test`.
setDefaultTimeout(30_000);

/** The runbook's SQL ("Common Queries"; docs/runbook-commands.md), character for character. */
const RUNBOOK_SQL = {
  listTenants: "SELECT id, name, phone_number, status, onboarding_status FROM tenants;",
  linkChat: "UPDATE tenants SET telegram_chat_id = 'CHAT_ID' WHERE phone_number = '+1xxx';",
  goLive: "UPDATE tenants SET onboarding_status = 'LIVE' WHERE id = 'xxx';",
  freeLease: "UPDATE conversation_sessions SET lease_expires_at = NULL WHERE tenant_id = 'xxx';",
  pendingTasks: "SELECT * FROM scheduled_tasks WHERE tenant_id = 'xxx' AND status = 'PENDING';",
  recentMessages: "SELECT * FROM messages WHERE tenant_id = 'xxx' ORDER BY created_at DESC LIMIT 20;",
};

/** Rows the statements above find: a tenant literally called 'xxx' with phone '+1xxx'. */
const SEED = [
  "INSERT INTO tenants (id, name, phone_number, channel) VALUES ('xxx', 'Runbook Plumbing', '+1xxx', 'telegram');",
  "INSERT INTO conversation_sessions (tenant_id, agent_session_id, lease_owner, lease_expires_at) VALUES ('xxx', 's1', 'worker-1', '2999-01-01T00:00:00.000Z');",
  "INSERT INTO scheduled_tasks (id, tenant_id, prompt, run_at, next_run_at, created_by) VALUES ('task-1', 'xxx', 'Send the weekly summary', '2999-01-01T09:00:00.000Z', '2999-01-01T09:00:00.000Z', 'admin');",
  "INSERT INTO messages (id, tenant_id, direction, channel, chat_id, external_id, body, status) VALUES ('m1', 'xxx', 'in', 'telegram', 'CHAT_ID', 'u1', 'hello', 'done');",
];

type TenantView = { id: string; telegram_chat_id: string | null; onboarding_status: string };

const fileOnly = fileDatabaseOnly("the runbook's SQL here opens the database file in DATA_DIR");

describe.skipIf(fileOnly)("runbook SQL against a live server's database", () => {
  test("bun:sqlite runs every statement verbatim while the server serves, and the server sees the changes", async () => {
    // As on a fresh machine without bubblewrap: the sandbox-off notice is a warning, not an error.
    const s = await spawnServer({ command: [process.execPath, SERVE_FIXTURE], env: noBwrapEnv() });
    const sqlite = new Database(s.dbPath);
    try {
      sqlite.exec("PRAGMA busy_timeout = 5000"); // a connection setting, as `.timeout` is in the sqlite3 shell
      for (const statement of SEED) sqlite.exec(statement);
      const seen = async () => (await (await fetch(`${s.url}/test/tenants`)).json()) as TenantView[];
      expect((await seen())[0]).toMatchObject({ id: "xxx", telegram_chat_id: null, onboarding_status: "DISCOVERY" });

      expect(sqlite.query(RUNBOOK_SQL.listTenants).all()).toEqual([
        {
          id: "xxx",
          name: "Runbook Plumbing",
          phone_number: "+1xxx",
          status: "ACTIVE",
          onboarding_status: "DISCOVERY",
        },
      ]);
      expect(sqlite.run(RUNBOOK_SQL.linkChat).changes).toBe(1);
      expect(sqlite.run(RUNBOOK_SQL.goLive).changes).toBe(1);
      expect(sqlite.run(RUNBOOK_SQL.freeLease).changes).toBe(1);
      expect(sqlite.query(RUNBOOK_SQL.pendingTasks).all()).toHaveLength(1);
      expect(sqlite.query(RUNBOOK_SQL.recentMessages).all()).toHaveLength(1);
      expect(sqlite.query("SELECT lease_expires_at FROM conversation_sessions WHERE tenant_id = 'xxx'").get()).toEqual({
        lease_expires_at: null,
      });

      // The running server's own connection reads the new values: nothing of this is cached.
      expect((await seen())[0]).toMatchObject({ telegram_chat_id: "CHAT_ID", onboarding_status: "LIVE" });
      const health = await fetch(`${s.url}/health`);
      expect(health.status).toBe(200);
      expect(await s.stop()).toBe(0);
      expect(s.logs().filter((l) => l.level === "error")).toEqual([]);
      expect(s.logs().some((l) => l.level === "warn" && l.msg === "AGENT SANDBOX OFF")).toBe(true);
    } finally {
      sqlite.close();
      await s.cleanup();
    }
  });

  const sqlite3 = Bun.which("sqlite3");
  test.if(sqlite3 !== null)(
    "the sqlite3 shell runs them verbatim too (skipped when sqlite3 is not installed)",
    async () => {
      const s = await spawnServer({ command: [process.execPath, SERVE_FIXTURE] });
      const shell = (statement: string) => {
        const run = Bun.spawnSync([sqlite3!, "-cmd", ".timeout 5000", s.dbPath, statement]);
        return { code: run.exitCode, out: run.stdout.toString(), err: run.stderr.toString() };
      };
      try {
        for (const statement of SEED) expect(shell(statement).code).toBe(0);
        for (const statement of Object.values(RUNBOOK_SQL)) {
          const result = shell(statement);
          expect(result.err).toBe("");
          expect(result.code).toBe(0);
        }
        expect(shell(RUNBOOK_SQL.listTenants).out.trim()).toBe("xxx|Runbook Plumbing|+1xxx|ACTIVE|LIVE");
        const seen = (await (await fetch(`${s.url}/test/tenants`)).json()) as TenantView[];
        expect(seen[0]).toMatchObject({ telegram_chat_id: "CHAT_ID", onboarding_status: "LIVE" });
        expect((await fetch(`${s.url}/health`)).status).toBe(200);
        expect(await s.stop()).toBe(0);
      } finally {
        await s.cleanup();
      }
    },
  );
});
