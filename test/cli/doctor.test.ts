import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunbookEnv } from "./runbook-support.ts";
import { runbookEnv } from "./runbook-support.ts";

interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

const API_KEY = "sk-ant-api03-doctor-test-secret-value";
const BOT_TOKEN = "123456:ABC-doctor_test_bot_token";

let e: RunbookEnv | undefined;
afterEach(() => e?.cleanup());

/** `bun scripts/doctor.ts --json …` parsed. */
async function doctorJson(env: RunbookEnv, args: string[] = [], extraEnv: Record<string, string> = {}) {
  const r = await env.run("doctor", ["--json", ...args], { env: extraEnv });
  return { ...r, checks: JSON.parse(r.stdout) as Check[] };
}

const find = (checks: Check[], name: string) => checks.find((c) => c.name === name);

describe("proxystaff doctor", () => {
  test("a working install: every line ok or warn, exit 0, no secret printed", async () => {
    e = runbookEnv({ ANTHROPIC_API_KEY: API_KEY, TELEGRAM_BOT_TOKEN: BOT_TOKEN, TELEGRAM_MODE: "polling" });
    const ctx = await e.context(); // creates and migrates the database, like a first start
    await ctx.database.close();
    mkdirSync(e.tenantsDir, { recursive: true });

    const r = await e.run("doctor", []);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok +database +file:.*answers \(bun-sqlite\)$/m);
    expect(r.stdout).toMatch(/^ok +migrations +all \d+ applied$/m);
    expect(r.stdout).toMatch(/^ok +agent login +ANTHROPIC_API_KEY is set$/m);
    expect(r.stdout).toMatch(/^ok +claude CLI +\d+\.\d+\.\d+ \(Claude Code\) at /m);
    expect(r.stdout).toMatch(/^ok +python3 +Python 3\./m);
    expect(r.stdout).toMatch(/^ok +telegram +on \(polling/m);
    expect(r.stdout).toMatch(/^(ok|warn) +sandbox \(bubblewrap\) works /m); // warn where bwrap cannot run (AGENT_SANDBOX=auto)
    expect(r.stdout).not.toMatch(/^fail /m);
    expect(r.stdout).toMatch(/\d+ ok, \d+ warning\(s\), 0 failed$/m);
    for (const secret of [API_KEY, BOT_TOKEN, e.env.ADMIN_API_KEY!, e.env.CREDENTIALS_KEY!])
      expect(r.stdout).not.toContain(secret);

    const json = await doctorJson(e, ["--skip-sandbox"]);
    expect(json.code).toBe(0);
    expect(json.checks.every((c) => ["ok", "warn"].includes(c.status) && c.detail.length > 0)).toBe(true);
    expect(find(json.checks, "sandbox")).toMatchObject({
      status: "warn",
      detail: "self-check skipped (--skip-sandbox)",
    });
  });

  test("a broken install: each problem is a failed line with a fix, exit 1, and nothing is created", async () => {
    e = runbookEnv({ AGENT_COMMAND: "/nonexistent/claude" });
    const r = await e.run("doctor", ["--json"], { env: { ADMIN_API_KEY: "" } });
    expect(r.code).toBe(1);
    const checks = JSON.parse(r.stdout) as Check[];
    expect(find(checks, "agent login")).toMatchObject({ status: "fail" });
    expect(find(checks, "agent login")?.fix).toContain("CLAUDE_CODE_OAUTH_TOKEN");
    expect(find(checks, "claude CLI")).toMatchObject({ status: "fail" });
    expect(find(checks, "claude CLI")?.detail).toContain("/nonexistent/claude");
    expect(find(checks, "sandbox")).toMatchObject({ status: "fail" });
    expect(find(checks, "channels")).toMatchObject({ status: "fail" });
    expect(find(checks, "database")).toMatchObject({ status: "warn" });
    expect(find(checks, "admin key")).toMatchObject({ status: "warn" });
    for (const c of checks.filter((x) => x.status === "fail")) expect(c.fix).toBeString();
    // doctor changes nothing: no database, no generated key, no directories
    expect(existsSync(e.dbPath)).toBe(false);
    expect(existsSync(join(e.dataDir, "admin-api-key"))).toBe(false);
    expect(existsSync(e.dataDir)).toBe(false);
  });

  test("an invalid configuration is one failed line naming the variable", async () => {
    e = runbookEnv({ PORT: "eighty" });
    const r = await e.run("doctor", []);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^fail +config +invalid: PORT: /m);
  });

  test("migrations not applied, a database from a newer build, an unreadable login file", async () => {
    e = runbookEnv({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, TELEGRAM_MODE: "polling" });
    mkdirSync(e.dataDir, { recursive: true });
    new Database(e.dbPath, { create: true }).close(); // an empty database: nothing applied
    const claudeDir = join(e.dataDir, "claude");
    mkdirSync(claudeDir);
    writeFileSync(join(claudeDir, ".credentials.json"), "{not json");

    const pending = await doctorJson(e, ["--skip-sandbox"]);
    expect(find(pending.checks, "migrations")).toMatchObject({ status: "warn" });
    expect(find(pending.checks, "migrations")?.detail).toMatch(/^(\d+) of \1 not applied yet$/);
    expect(find(pending.checks, "migrations")?.fix).toContain("proxystaff migrate");
    expect(find(pending.checks, "agent login")).toMatchObject({ status: "fail" });
    expect(find(pending.checks, "agent login")?.detail).toContain("cannot be read as JSON");

    const ctx = await e.context(); // migrate, then pretend a newer build added one more
    await ctx.database.close();
    const db = new Database(e.dbPath);
    db.run(`INSERT INTO "__drizzle_migrations" (hash, created_at) VALUES ('future', 9999999999999)`);
    db.close();
    writeFileSync(
      join(claudeDir, ".credentials.json"),
      JSON.stringify({ claudeAiOauth: { accessToken: "sk-ant-oat01-x", refreshToken: "r" } }),
    );
    const ahead = await doctorJson(e, ["--skip-sandbox"]);
    expect(ahead.code).toBe(1);
    expect(find(ahead.checks, "migrations")).toMatchObject({ status: "fail" });
    expect(find(ahead.checks, "migrations")?.detail).toContain("newer ProxyStaff");
    // A plan login file is not used with the gateway on (the default): doctor says what to do instead.
    expect(find(ahead.checks, "agent login")).toMatchObject({ status: "fail" });
    expect(find(ahead.checks, "agent login")?.fix).toContain("claude setup-token");
    expect(find(ahead.checks, "model gateway")).toMatchObject({ status: "ok" });
    expect(ahead.stdout).not.toContain("sk-ant-oat01-x");
    // With MODEL_GATEWAY=off the file is the login, as before; the gateway line warns.
    const off = await doctorJson(e, ["--skip-sandbox"], { MODEL_GATEWAY: "off" });
    expect(find(off.checks, "agent login")).toMatchObject({ status: "ok" });
    expect(find(off.checks, "model gateway")).toMatchObject({ status: "warn" });
    expect(off.stdout).not.toContain("sk-ant-oat01-x");
  });
});
