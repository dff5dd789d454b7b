// End to end through a real server process: the customer asks on Telegram, the REAL Claude CLI (scripted by
// the fake Anthropic API) calls the ProxyStaff schedule_task MCP tool, the scheduler fires the task two
// seconds later, the agent runs with the task's prompt and its answer arrives at the fake Telegram.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { lastPrompt, lastToolResult, startFakeAnthropic } from "../fakes/anthropic.ts";
import type { FakeTelegram } from "../fakes/telegram.ts";
import { FAKE_BOT_TOKEN, startFakeTelegram, textUpdate } from "../fakes/telegram.ts";
import type { ServerProcess } from "../helpers/index.ts";
import { eventually, REPO_ROOT, spawnServer } from "../helpers/index.ts";

const REAL_CLI = join(REPO_ROOT, "node_modules", ".bin", "claude");
const TASK_PROMPT = "Tell the owner the bread is ready";
const CHAT_ID = 777001;

describe.skipIf(!existsSync(REAL_CLI))("scheduled task end to end (real CLI, real server)", () => {
  let anthropic: FakeAnthropic;
  let telegram: FakeTelegram;
  let server: ServerProcess;

  beforeAll(async () => {
    anthropic = startFakeAnthropic();
    telegram = startFakeTelegram();
    anthropic.setHandler((req) => {
      if (lastToolResult(req.body) !== undefined) return undefined; // the tool step: the tool_use's `after`
      const prompt = lastPrompt(req.body) ?? "";
      if (prompt.includes(TASK_PROMPT)) return { type: "text", text: "🍞 The bread is ready!" };
      if (prompt.includes("Remind me")) {
        return {
          type: "tool_use",
          name: "mcp__proxystaff__schedule_task",
          input: { prompt: TASK_PROMPT, run_at: new Date(Date.now() + 2000).toISOString() },
          after: { type: "text", text: "Sure, I will remind you." },
        };
      }
      return { type: "text", text: "ok" };
    });
    // The agent reaches /mcp at http://127.0.0.1:${PORT}: give the server a known free port (PORT=0 would hide it).
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = String(probe.port);
    await probe.stop(true);
    server = await spawnServer({
      env: {
        PORT: port,
        TELEGRAM_BOT_TOKEN: FAKE_BOT_TOKEN,
        TELEGRAM_API_ROOT: telegram.url,
        TELEGRAM_MODE: "polling",
        ANTHROPIC_BASE_URL: anthropic.url,
        ANTHROPIC_API_KEY: "sk-ant-fake-platform-key",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        ENABLE_TOOL_SEARCH: "false",
        DISABLE_AUTOUPDATER: "1",
        AGENT_ARGS: "--allowedTools mcp__proxystaff",
        AGENT_SANDBOX: "none",
      },
    });
  });
  afterAll(async () => {
    await server?.cleanup();
    await telegram?.stop();
    await anthropic?.stop();
  });

  test("schedule_task from a chat turn → task fires → the reply reaches Telegram → task DONE", async () => {
    const created = await server.adminFetch("/admin/tenants", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "Alpine Bakery",
        phone: "+18015550177",
        channel: "telegram",
        timezone: "America/Denver",
      }),
    });
    expect(created.status).toBe(201);
    const tenant = (await created.json()) as { id: string };
    const linked = await server.adminFetch(`/admin/tenants/${tenant.id}/link`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ telegram_chat_id: String(CHAT_ID) }),
    });
    expect(linked.status).toBe(200);

    telegram.pushUpdate(textUpdate({ chatId: CHAT_ID, text: "Remind me in two seconds that the bread is ready" }));
    await eventually(
      () => telegram.sent.find((m) => m.text.includes("Sure, I will remind you")),
      "the chat turn's reply",
      45_000,
    );

    const fired = await eventually(
      () => telegram.sent.find((m) => m.text.includes("The bread is ready")),
      "the task's reply",
      45_000,
    );
    expect(fired.chat_id).toBe(String(CHAT_ID));
    const taskRun = anthropic.messageRequests().find((r) => (lastPrompt(r.body) ?? "").includes(TASK_PROMPT));
    expect(taskRun).toBeDefined();

    const task = await eventually(
      async () => {
        const res = await server.adminFetch(`/admin/tenants/${tenant.id}/tasks`);
        const { tasks } = (await res.json()) as { tasks: { status: string; created_by: string; prompt: string }[] };
        return tasks.find((t) => t.prompt === TASK_PROMPT && t.status === "DONE");
      },
      "the task to be DONE",
      45_000,
      100,
    );
    expect(task.created_by).toBe("agent");
    expect(server.logs().some((l) => l.msg === "agent tool call" && l.tool === "schedule_task" && l.ok === true)).toBe(
      true,
    );
  }, 90_000);
});
