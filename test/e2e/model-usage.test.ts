// Issue 13, metering and budgets, end to end: a real server process, the REAL Claude CLI (no sandbox needed: the
// gateway is what is tested), the fake Anthropic API behind the server's ANTHROPIC_BASE_URL reporting chosen usage.

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeReply } from "../fakes/anthropic.ts";
import { CREDIT_TOO_LOW_ERROR, lastPrompt, lastToolResult } from "../fakes/anthropic.ts";
import { eventually, freePort } from "../helpers/index.ts";
import type { Fakes } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "./stack.ts";

if (!HAS_REAL_CLI) console.warn("SKIPPED model usage e2e: needs the real Claude CLI (node_modules/.bin/claude)");

/** The model the CLI is told to use, and its price (USD per million tokens) through MODEL_PRICES. */
const MODEL = "claude-test-meter-1";
const PRICE = { input: 2, output: 10, cache_write: 4, cache_read: 1 };
/** The highest built-in price (claude-opus-4 / claude-3-opus): what an unknown model costs. */
const HIGHEST = { input: 15, output: 75, cache_write: 18.75, cache_read: 1.5 };
const USAGE = {
  input_tokens: 1234,
  output_tokens: 56,
  cache_creation_input_tokens: 700,
  cache_read_input_tokens: 9000,
};
const cost = (u: typeof USAGE, p: typeof PRICE) =>
  (u.input_tokens * p.input +
    u.output_tokens * p.output +
    u.cache_creation_input_tokens * p.cache_write +
    u.cache_read_input_tokens * p.cache_read) /
  1e6;

interface UsageRow {
  run_id: string | null;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cost_usd: number;
  status: number;
  day: string;
}

function handler(fakes: Fakes): void {
  fakes.anthropic.setHandler((req): FakeReply | undefined => {
    const toolOutput = lastToolResult(req.body);
    if (toolOutput !== undefined) return { type: "text", text: `tool said ${toolOutput.trim()}` };
    const prompt = lastPrompt(req.body) ?? "";
    if (prompt.includes("[metered]")) return { type: "text", text: "metered answer", usage: USAGE };
    if (prompt.includes("[mystery]"))
      return { type: "text", text: "mystery answer", usage: USAGE, model: "claude-mystery-9-20991231" };
    // A first request that costs 20,000 input tokens (0.04 USD at PRICE): the next request of the run is over a 0.01
    // budget. (A usage past the context window, e.g. 1M, makes the CLI compact first: the refused request is then
    // its compaction, classified the same.)
    if (prompt.includes("[spend]"))
      return {
        type: "tool_use",
        name: "Bash",
        input: { command: "echo spent", description: "spend" },
        usage: { input_tokens: 20_000, output_tokens: 10 },
      };
    if (prompt.includes("[credit]")) return CREDIT_TOO_LOW_ERROR;
    return { type: "text", text: "fine" };
  });
}

describe.skipIf(!HAS_REAL_CLI)("model usage and budgets through the gateway (real CLI)", () => {
  let fakes: Fakes;
  let stack: StackClient;
  let dir: string;

  beforeAll(async () => {
    fakes = startFakes();
    handler(fakes);
    dir = mkdtempSync(join(tmpdir(), "ps-usage-e2e-"));
    const port = await freePort();
    const server = await spawnServer({
      dir,
      env: stackEnv(fakes, port, {
        MODEL_GATEWAY: "on",
        ANTHROPIC_MODEL: MODEL,
        MODEL_PRICES: JSON.stringify({ [MODEL]: PRICE }),
        AGENT_TIMEOUT_MS: "90000",
      }),
    });
    stack = new StackClient(server, fakes);
  }, 60_000);
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  function usageRows(tenantId: string): UsageRow[] {
    const db = new Database(stack.server.dbPath, { readonly: true });
    try {
      return db
        .query(
          "SELECT run_id, model, input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, cost_usd, status, day FROM model_usage WHERE tenant_id = ? ORDER BY created_at, rowid",
        )
        .all(tenantId) as UsageRow[];
    } finally {
      db.close();
    }
  }

  async function linkedTenant(name: string, phone: string, chat: number): Promise<string> {
    const id = await stack.createTenant({ name, phone, timezone: "Pacific/Auckland" });
    await stack.telegramLink(chat, phone);
    return id;
  }

  test("a turn's usage row matches what the API reported: tokens, model, cost from MODEL_PRICES, the tenant's local day; log line, timeline, admin usage", async () => {
    const id = await linkedTenant("Meter One", "+18015550401", 504001);
    await stack.telegramText(504001, "[metered] hello");
    await eventually(() => stack.telegramReplies(504001).find((t) => t === "metered answer"), "the reply", 60_000);
    const rows = await eventually(() => {
      const found = usageRows(id);
      return found.length > 0 ? found : undefined;
    }, "the usage row");
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ model: MODEL, status: 200, ...USAGE });
    expect(row.cost_usd).toBeCloseTo(cost(USAGE, PRICE), 9);
    // Auckland's date (UTC+13 in December), not the server's.
    const aucklandDay = new Intl.DateTimeFormat("en-CA", { timeZone: "Pacific/Auckland" }).format(new Date());
    expect(row.day).toBe(aucklandDay);

    const finished = await stack.server.waitForLog((l) => l.msg === "agent run finished" && l.tenantId === id);
    expect(finished).toMatchObject({ inputTokens: USAGE.input_tokens, outputTokens: USAGE.output_tokens });
    expect(Number(finished.costUsd)).toBeCloseTo(cost(USAGE, PRICE), 6);
    const ok = await stack.server.waitForLog((l) => l.msg === "agent run ok" && l.tenantId === id);
    expect(ok.runId).toBe(row.run_id);

    const timeline = await eventually(() => {
      const text = readFileSync(join(dir, "tenants", id, "timeline", `${aucklandDay}.md`), "utf8");
      return text.includes("→ reply:") ? text : undefined;
    }, "the timeline line");
    expect(timeline).toContain(`(1234 in / 56 out / 9700 cache tokens, $${cost(USAGE, PRICE).toFixed(4)})`);

    const month = aucklandDay.slice(0, 7);
    const res = await stack.admin("GET", `/admin/tenants/${id}/usage?month=${month}`);
    const report = (await res.json()) as { totals: { input_tokens: number; runs: number; cost_usd: number } };
    expect(report.totals).toMatchObject({ input_tokens: USAGE.input_tokens, runs: 1 });
    // Nothing of the prompt or the answer in the rows.
    expect(JSON.stringify(rows)).not.toContain("hello");
    expect(JSON.stringify(rows)).not.toContain("metered answer");
  }, 90_000);

  test("a model missing from the price table is priced at the highest known price, and logged once", async () => {
    const id = await linkedTenant("Meter Two", "+18015550402", 504002);
    await stack.telegramText(504002, "[mystery] one");
    await eventually(() => stack.telegramReplies(504002).find((t) => t === "mystery answer"), "the reply", 60_000);
    await stack.telegramText(504002, "[mystery] two");
    await eventually(
      () => stack.telegramReplies(504002).filter((t) => t === "mystery answer")[1],
      "the 2nd reply",
      60_000,
    );
    const rows = await eventually(() => (usageRows(id).length === 2 ? usageRows(id) : undefined), "two rows");
    for (const row of rows) {
      expect(row.model).toBe("claude-mystery-9-20991231");
      expect(row.cost_usd).toBeCloseTo(cost(USAGE, HIGHEST), 9);
    }
    const warnings = stack.server.logs().filter((l) => String(l.msg).startsWith("model not in the price table"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.model).toBe("claude-mystery-9-20991231");
  }, 120_000);

  test("budget reached before a run: no CLI run, one reply a month (two messages, one reply), rows failed budget_exceeded", async () => {
    const id = await linkedTenant("Meter Three", "+18015550403", 504003);
    await stack.telegramText(504003, "[metered] spend a little");
    await eventually(() => stack.telegramReplies(504003).find((t) => t === "metered answer"), "the reply", 60_000);
    await eventually(() => (usageRows(id).length === 1 ? true : undefined), "the usage row");
    const patched = await stack.admin("PATCH", `/admin/tenants/${id}`, { monthly_budget_usd: 0.001 });
    expect(patched.status).toBe(200);
    const requestsBefore = fakes.anthropic.messageRequests().length;

    await stack.telegramText(504003, "are you there?");
    await eventually(() => stack.telegramReplies(504003).find((t) => t.includes("monthly budget")), "the budget reply");
    await stack.telegramText(504003, "hello again?");
    const failed = await eventually(async () => {
      const rows = (await stack.rows({ tenantId: id })).filter((r) => r.direction === "in" && r.status === "failed");
      return rows.length === 2 ? rows : undefined;
    }, "both messages failed");
    for (const row of failed) expect(row.error).toBe("budget_exceeded");
    expect(stack.telegramReplies(504003).filter((t) => t.includes("monthly budget"))).toEqual([
      "Sorry, this assistant's monthly budget is reached; your operator has been told.",
    ]);
    // No agent was started for them: the API saw nothing more, the log has no run start for the tenant after the first.
    expect(fakes.anthropic.messageRequests().length).toBe(requestsBefore);
    expect(stack.server.logs().filter((l) => l.msg === "agent run started" && l.tenantId === id)).toHaveLength(1);
    // The refusal's log line follows the rows' update; the server's output is read as it comes.
    await eventually(
      () =>
        stack.server.logs().filter((l) => l.msg === "agent run refused: monthly budget reached" && l.tenantId === id)
          .length === 2 || undefined,
      "both refusals logged",
    );
    // The operator sees it: /health counter, admin usage.
    expect((await stack.health()).body.budget_refused_runs).toBeGreaterThanOrEqual(2);
    const all = (await (await stack.admin("GET", "/admin/usage")).json()) as {
      tenants: { tenant_id: string; is_over_budget: boolean; budget_usd: number }[];
    };
    const month = new Intl.DateTimeFormat("en-CA", { timeZone: "Pacific/Auckland" }).format(new Date()).slice(0, 7);
    const mine = (await (await stack.admin("GET", `/admin/tenants/${id}/usage?month=${month}`)).json()) as Record<
      string,
      unknown
    >;
    expect(mine).toMatchObject({ is_over_budget: true, is_budget_reply_sent: true, budget_usd: 0.001 });
    expect(all.tenants.some((t) => t.tenant_id === id)).toBe(true);
  }, 120_000);

  test("budget crossed mid-run: the next model request gets a 400, the CLI stops at once, the run is budget_exceeded", async () => {
    const id = await linkedTenant("Meter Four", "+18015550404", 504004);
    await stack.admin("PATCH", `/admin/tenants/${id}`, { monthly_budget_usd: 0.01 });
    await stack.telegramText(504004, "[spend] do a big job");
    const failedLine = await stack.server.waitForLog(
      (l) => l.msg === "agent run failed" && l.tenantId === id && l.component === "turn",
      60_000,
    );
    expect(failedLine.kind).toBe("budget_exceeded");
    // Stopped by the refusal, not by the time limit (AGENT_TIMEOUT_MS is 90 s; upstream errors are retried for minutes).
    expect(Number(failedLine.durationMs)).toBeLessThan(30_000);
    const refused = stack.server
      .logs()
      .filter((l) => l.msg === "model request refused: monthly budget reached" && l.tenantId === id);
    // CLI 2.1.332 sends the refused request a few times within ~50 ms (observed: 4), then exits 1: no backoff.
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(6);
    expect(Date.parse(String(refused.at(-1)?.time)) - Date.parse(String(refused[0]?.time))).toBeLessThan(5_000);
    const rows = usageRows(id);
    expect(rows).toHaveLength(1); // the first (big) request; the refused one never went upstream
    expect(rows[0]?.cost_usd).toBeCloseTo((20_000 * 2 + 10 * 10) / 1e6, 9);
    await eventually(() => stack.telegramReplies(504004).find((t) => t.includes("monthly budget")), "the budget reply");
    const inbound = await eventually(
      async () => (await stack.rows({ tenantId: id })).find((r) => r.direction === "in" && r.status === "failed"),
      "the failed row",
    );
    expect(inbound.error).toStartWith("budget_exceeded");
  }, 90_000);

  test("credit too low upstream: /health says model credit_low with the time, until a later request succeeds", async () => {
    await linkedTenant("Meter Five", "+18015550405", 504005);
    expect((await stack.health()).body.model).toBe("ok");
    await stack.telegramText(504005, "[credit] hello");
    await stack.server.waitForLog((l) => String(l.msg).startsWith("model credit balance is too low"), 60_000);
    const low = await stack.health();
    expect(low.body.model).toBe("credit_low");
    expect(Date.parse(String(low.body.model_credit_low_since))).toBeGreaterThan(Date.now() - 120_000);
    const runFailed = await stack.server.waitForLog(
      (l) => l.msg === "agent run failed" && l.kind === "credit_too_low" && l.component === "turn",
      60_000,
    );
    expect(runFailed.error).toBe("Credit balance is too low");
    await stack.telegramText(504005, "and now?");
    await eventually(() => stack.telegramReplies(504005).find((t) => t === "fine"), "a successful reply", 60_000);
    await eventually(async () => ((await stack.health()).body.model === "ok" ? true : undefined), "credit ok again");
  }, 120_000);
});

describe.skipIf(!HAS_REAL_CLI)("the model API is down (real CLI)", () => {
  let fakes: Fakes;
  let stack: StackClient;
  let dir: string;

  beforeAll(async () => {
    fakes = startFakes();
    dir = mkdtempSync(join(tmpdir(), "ps-usage-down-"));
    const port = await freePort();
    const closed = await freePort(); // nothing listens there: every forward fails to connect
    const server = await spawnServer({
      dir,
      env: stackEnv(fakes, port, {
        MODEL_GATEWAY: "on",
        ANTHROPIC_BASE_URL: `http://127.0.0.1:${closed}`,
        AGENT_TIMEOUT_MS: "12000",
      }),
    });
    stack = new StackClient(server, fakes);
  }, 60_000);
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test("the gateway answers 502, the CLI retries until the run's time limit, and the failure names the model API", async () => {
    const id = await stack.createTenant({ name: "Down One", phone: "+18015550406" });
    await stack.telegramLink(504006, "+18015550406");
    await stack.telegramText(504006, "hello?");
    const failed = await stack.server.waitForLog(
      (l) => l.msg === "agent run failed" && l.component === "turn" && l.tenantId === id,
      60_000,
    );
    expect(failed.kind).toBe("timeout");
    expect(Number(failed.modelServerErrors)).toBeGreaterThanOrEqual(1);
    expect(String(failed.error)).toContain("the model API failed");
    expect(stack.server.logs().some((l) => l.msg === "model API unreachable" && l.tenantId === id)).toBe(true);
    const row = await eventually(
      async () => (await stack.rows({ tenantId: id })).find((r) => r.direction === "in" && r.status === "failed"),
      "the failed row",
    );
    expect(row.error).toStartWith("timeout:");
    expect(row.error).toContain("unreachable or 5xx");
    await eventually(
      () => stack.telegramReplies(504006).find((t) => t.startsWith("Sorry, I hit a problem")),
      "the apology",
    );
    const health = await stack.health();
    expect(health.body.model).toBe("ok"); // down is not "out of credit"
  }, 90_000);
});
