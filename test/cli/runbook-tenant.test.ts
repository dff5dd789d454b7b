import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunbookEnv } from "./runbook-support.ts";
import { printedTenantId, runbookEnv } from "./runbook-support.ts";

let rb: RunbookEnv;
let id: string;
beforeAll(async () => {
  rb = runbookEnv();
  const created = await rb.run("create-tenant", [
    "--name",
    "Acme Plumbing",
    "--phone",
    "+18015550101",
    "--channel",
    "telegram",
  ]);
  if (created.code !== 0) throw new Error(created.stderr);
  id = printedTenantId(created.stdout);
});
afterAll(() => rb.cleanup());

/** Runs the runbook's SQL verbatim against the database file, as `sqlite3 $DATA_DIR/proxystaff.db` would. */
function sql(statement: string): unknown[] {
  const db = new Database(rb.dbPath);
  try {
    return db.query(statement).all();
  } finally {
    db.close();
  }
}

describe("create-tenant (Manual Setup step 1)", () => {
  test("prints the id and creates the workspace; duplicate phone → exit 1 naming the tenant; missing flags → exit 2", async () => {
    expect(existsSync(join(rb.tenantsDir, id, "CLAUDE.md"))).toBe(true);
    const dup = await rb.run("create-tenant", [
      "--name",
      "Again",
      "--phone",
      "+1 801 555 0101",
      "--channel",
      "whatsapp",
    ]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain(id);
    const missing = await rb.run("create-tenant", []);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Missing --name, --phone, --channel (stdin is not a terminal");
  });
});

describe("init-tenant (Manual Setup step 2, Data Recovery)", () => {
  test("re-copies execution/ and keeps CLAUDE.md notes, timeline and .env", async () => {
    const ws = join(rb.tenantsDir, id);
    const claude = join(ws, "CLAUDE.md");
    const edited = `${readFileSync(claude, "utf8")}\nOperator was here.\n`;
    writeFileSync(claude, edited);
    writeFileSync(join(ws, "timeline", "2026-11-26.md"), "- 09:00 hello\n");
    writeFileSync(join(ws, ".env"), "LOCAL_ONLY=1\n");
    rmSync(join(ws, "execution", "send_email.py"));
    const res = await rb.run("init-tenant", [id]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("execution/send_email.py");
    expect(existsSync(join(ws, "execution", "send_email.py"))).toBe(true);
    expect(readFileSync(claude, "utf8")).toBe(edited);
    expect(readFileSync(join(ws, "timeline", "2026-11-26.md"), "utf8")).toBe("- 09:00 hello\n");
    expect(readFileSync(join(ws, ".env"), "utf8")).toBe("LOCAL_ONLY=1\n");
  });

  test("no id → exit 2; not a UUID → exit 2; unknown → exit 1", async () => {
    expect((await rb.run("init-tenant", [])).code).toBe(2);
    expect((await rb.run("init-tenant", ["../../etc"])).code).toBe(2);
    const unknown = await rb.run("init-tenant", ["00000000-0000-4000-8000-000000000000"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("tenant_not_found");
  });
});

describe("validate-tenant", () => {
  test("exit 0 when nothing fails; exit 1 with a fix hint when a tool is missing", async () => {
    const ok = await rb.run("validate-tenant", [id]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/warn\s+link\s+No Telegram chat linked yet/);
    expect(ok.stdout).toContain(
      `fix: Send the customer a one-time link (proxystaff link-code ${id}), or they send "/start +18015550101" to your Telegram bot`,
    );
    expect(ok.stdout).toMatch(/ok\s+health:env_loader.py/);
    rmSync(join(rb.tenantsDir, id, "execution", "env_loader.py"));
    const broken = await rb.run("validate-tenant", [id, "--skip-health-checks"]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/fail\s+tool:env_loader.py/);
    expect(broken.stdout).toContain(`fix: proxystaff init-tenant ${id}`);
    const json = await rb.run("validate-tenant", [id, "--skip-health-checks", "--json"]);
    expect(JSON.parse(json.stdout).ok).toBe(false);
    expect((await rb.run("init-tenant", [id])).code).toBe(0);
    expect((await rb.run("validate-tenant", [id, "--skip-health-checks"])).code).toBe(0);
  });
});

describe("validate-tenant with a broken workspace", () => {
  test(".env is a directory: the checklist is printed with a failed environment line, exit 1", async () => {
    const own = runbookEnv(); // its own database: the SQL tests below list every tenant
    try {
      const created = await own.run("create-tenant", [
        "--name",
        "Broken Env",
        "--phone",
        "+18015550177",
        "--channel",
        "telegram",
      ]);
      const other = printedTenantId(created.stdout);
      const envPath = join(own.tenantsDir, other, ".env");
      rmSync(envPath);
      mkdirSync(envPath);
      const res = await own.run("validate-tenant", [other]);
      expect(res.code).toBe(1);
      expect(res.stderr).not.toContain("EISDIR");
      expect(res.stdout).toMatch(/fail\s+environment\s+The tenant's \.env is a folder, not a regular file/);
      expect(res.stdout).toMatch(/ok\s+session/);
      expect(res.stdout).toContain("Result: 1 failed");
    } finally {
      own.cleanup();
    }
  });
});

describe("read-tenant and the runbook's SQL", () => {
  test("UPDATE tenants SET onboarding_status = 'LIVE' and telegram_chat_id show at once", async () => {
    const before = await rb.run("read-tenant", [id]);
    expect(before.code).toBe(0);
    expect(before.stdout).toContain("Onboarding:  DISCOVERY");
    expect(before.stdout).toContain("(no chat linked)");

    sql(`UPDATE tenants SET onboarding_status = 'LIVE' WHERE id = '${id}';`);
    sql(`UPDATE tenants SET telegram_chat_id = '987654' WHERE phone_number = '+18015550101';`);
    const after = await rb.run("read-tenant", [id]);
    expect(after.stdout).toContain("Onboarding:  LIVE");
    expect(after.stdout).toContain("Telegram chat 987654 linked");
    expect(sql("SELECT id, name, phone_number, status, onboarding_status FROM tenants;")).toEqual([
      { id, name: "Acme Plumbing", phone_number: "+18015550101", status: "ACTIVE", onboarding_status: "LIVE" },
    ]);
  });

  test("shows credentials masked, session and lease, pending tasks and the last 5 messages", async () => {
    const ctx = await rb.context();
    const { setCredentials } = await import("../../src/credentials/index.ts");
    await setCredentials(ctx, id, { SENDGRID_API_KEY: "SG.read-tenant-secret-9876" });
    await ctx.database.close();
    sql(`INSERT INTO conversation_sessions (tenant_id, agent_session_id, lease_owner, lease_expires_at)
         VALUES ('${id}', 'aaaaaaaa-0000-4000-8000-000000000001', 'host-1:42', '2999-01-01T00:00:00.000Z')`);
    sql(`INSERT INTO scheduled_tasks (id, tenant_id, prompt, cron, timezone, next_run_at, status, created_by)
         VALUES ('task-1', '${id}', 'Send the weekly summary', '0 9 * * 1', 'America/Denver', '2026-11-30T16:00:00.000Z', 'PENDING', 'admin')`);
    for (let i = 0; i < 7; i++) {
      sql(`INSERT INTO messages (id, tenant_id, direction, channel, chat_id, body, status, created_at)
           VALUES ('m${i}', '${id}', 'in', 'telegram', '987654', 'hello number ${i}', 'done', '2026-11-26T09:00:0${i}.000Z')`);
    }
    const res = await rb.run("read-tenant", [id]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("SENDGRID_API_KEY  ••••9876");
    expect(res.stdout).not.toContain("read-tenant-secret");
    expect(res.stdout).toContain("Agent session: aaaaaaaa-0000-4000-8000-000000000001");
    expect(res.stdout).toContain("Lease: held by host-1:42");
    expect(res.stdout).toContain('task-1  next 2026-11-30T16:00:00.000Z  cron "0 9 * * 1" (America/Denver)');
    expect(res.stdout).toContain("hello number 6");
    expect(res.stdout).toContain("hello number 2");
    expect(res.stdout).not.toContain("hello number 1");

    sql(`UPDATE conversation_sessions SET lease_expires_at = NULL WHERE tenant_id = '${id}';`);
    const freed = await rb.run("read-tenant", [id, "--json"]);
    const json = JSON.parse(freed.stdout);
    expect(json.session.lease_expires_at).toBeNull();
    expect(json.pending_tasks).toHaveLength(1);
    expect(json.last_messages).toHaveLength(5);
    expect(freed.stdout).not.toContain("read-tenant-secret");
  });

  test("read-messages: every tenant's, newest first; one tenant's with --limit", async () => {
    sql(`INSERT INTO messages (id, tenant_id, direction, channel, chat_id, body, status, created_at)
         VALUES ('stray', NULL, 'in', 'telegram', '1111', 'who am I', 'rejected', '2026-11-26T10:00:00.000Z')`);
    const all = await rb.run("read-messages", []);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split("\n");
    expect(lines[0]).toContain("(unlinked chat 1111)");
    expect(lines[1]).toContain("Acme Plumbing");
    expect(lines[1]).toContain("hello number 6");
    const some = await rb.run("read-messages", [id, "--limit", "2"]);
    expect(some.stdout.trim().split("\n")).toHaveLength(2);
    expect(some.stdout).not.toContain("who am I");
    expect((await rb.run("read-messages", ["--limit", "zero"])).code).toBe(2);
  });

  test("read-messages pages through a split reply (one created_at) with the printed --before cursor", async () => {
    sql(`INSERT INTO messages (id, tenant_id, direction, channel, chat_id, body, status, created_at) VALUES
         ('c3', '${id}', 'out', 'telegram', '77', 'chunk one', 'sent', '2027-01-01T00:00:00.000Z'),
         ('c2', '${id}', 'out', 'telegram', '77', 'chunk two', 'sent', '2027-01-01T00:00:00.000Z'),
         ('c1', '${id}', 'out', 'telegram', '77', 'chunk three', 'sent', '2027-01-01T00:00:00.000Z')`);
    try {
      const first = await rb.run("read-messages", [id, "--limit", "2"]);
      expect(first.stdout).toContain("chunk three");
      expect(first.stdout).toContain("chunk two");
      expect(first.stderr).toContain("Older messages: --before '2027-01-01T00:00:00.000Z|c2'");
      const next = await rb.run("read-messages", [id, "--limit", "2", "--before", "2027-01-01T00:00:00.000Z|c2"]);
      const [chunk, older] = next.stdout.trim().split("\n");
      expect(chunk).toContain("chunk one");
      expect(older).toContain("hello number");
      expect((await rb.run("read-messages", [id, "--before", "soon"])).code).toBe(2);
    } finally {
      sql(`DELETE FROM messages WHERE id IN ('c1', 'c2', 'c3')`);
    }
  });

  test("a row of the tenant from another Telegram chat (a refused /start) says so; the owner's rows do not", async () => {
    sql(`INSERT INTO messages (id, tenant_id, direction, channel, chat_id, body, status, error, created_at)
         VALUES ('intruder', '${id}', 'in', 'telegram', '5555', '/start +18015550101', 'rejected', 'number_already_linked', '2026-11-26T11:00:00.000Z')`);
    const one = await rb.run("read-messages", [id, "--limit", "2"]);
    const [intruder, owner] = one.stdout.trim().split("\n");
    expect(intruder).toContain("(from Telegram chat 5555, not the linked chat)  /start +18015550101");
    expect(owner).toContain("hello number 6");
    expect(owner).not.toContain("from Telegram chat");
    expect((await rb.run("read-messages", [])).stdout).toContain("Acme Plumbing (");
    expect((await rb.run("read-tenant", [id])).stdout).toContain("(from Telegram chat 5555, not the linked chat)");
    sql(`DELETE FROM messages WHERE id = 'intruder'`);
  });

  test("unknown tenant → exit 1; missing id → exit 2", async () => {
    const unknown = await rb.run("read-tenant", ["00000000-0000-4000-8000-000000000000"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No tenant with id");
    expect((await rb.run("read-tenant", [])).code).toBe(2);
  });
});

describe("set-status", () => {
  test("PAUSED from any status, back to LIVE; unknown status → 2; refused move → 1", async () => {
    const paused = await rb.run("set-status", [id, "PAUSED"]);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain("LIVE -> PAUSED");
    expect((await rb.run("set-status", [id, "live"])).code).toBe(0);
    const bad = await rb.run("set-status", [id, "ASLEEP"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("DISCOVERY, BUILDING, LIVE, PAUSED");
    const back = await rb.run("set-status", [id, "DISCOVERY"]);
    expect(back.code).toBe(1);
    expect(back.stderr).toContain("invalid_transition");
  });
});
