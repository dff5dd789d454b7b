import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAgentRunner } from "../../src/agent/index.ts";
import type { ProcessAgentRunner } from "../../src/agent/runner.ts";
import { createChannels } from "../../src/channels/index.ts";
import type { Outbox } from "../../src/conversation/index.ts";
import { createOutbox } from "../../src/conversation/index.ts";
import type { AgentTools } from "../../src/mcp/index.ts";
import { createAgentTools } from "../../src/mcp/index.ts";
import type { Tenant } from "../../src/tenants/index.ts";
import { createTenant, setTelegramChat, tenantUid, workspacePath } from "../../src/tenants/index.ts";
import { REAL_CLI } from "../agent/setup.ts";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { startFakeAnthropic } from "../fakes/anthropic.ts";
import type { FakeTelegram } from "../fakes/telegram.ts";
import { FAKE_BOT_TOKEN, startFakeTelegram } from "../fakes/telegram.ts";
import type { TestServer } from "../helpers/index.ts";
import { eventually, startTestServer } from "../helpers/index.ts";

// send_file driven by the REAL Claude Code CLI through the agent runner: the fake Anthropic API scripts
// the model's tool call, the real outbox sends through the fake Telegram.

const hasCli = existsSync(REAL_CLI);
if (!hasCli) console.warn(`skipping real-CLI send_file tests: ${REAL_CLI} is missing (run npm install)`);

const PDF = new Uint8Array([...new TextEncoder().encode("%PDF-1.4\n"), ...Array.from({ length: 256 }, (_, i) => i)]);

describe.skipIf(!hasCli)("send_file with the real Claude CLI", () => {
  let anthropic: FakeAnthropic;
  let telegram: FakeTelegram;
  let server: TestServer;
  let tools: AgentTools;
  let outbox: Outbox;
  let runner: ProcessAgentRunner;
  let tenant: Tenant;

  beforeAll(async () => {
    anthropic = startFakeAnthropic();
    telegram = startFakeTelegram();
    server = await startTestServer({
      env: {
        ANTHROPIC_BASE_URL: anthropic.url,
        ANTHROPIC_API_KEY: "sk-ant-fake-platform-key",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        ENABLE_TOOL_SEARCH: "false",
        DISABLE_AUTOUPDATER: "1",
        AGENT_ARGS: "--allowedTools Bash,mcp__proxystaff",
        AGENT_SANDBOX: "none",
        MODEL_GATEWAY: "off",
        AGENT_TIMEOUT_MS: "120000",
        TELEGRAM_BOT_TOKEN: FAKE_BOT_TOKEN,
        TELEGRAM_API_ROOT: telegram.url,
        TELEGRAM_MODE: "polling",
      },
      build: async (ctx) => {
        const channels = createChannels(ctx, { onInbound: async () => {} });
        outbox = createOutbox(ctx, channels.byName, { baseBackoffMs: 20, maxBackoffMs: 100 });
        tools = createAgentTools(ctx, { outbox });
        return [{ routes: tools.routes, services: [outbox] }];
      },
    });
    runner = createAgentRunner({ config: server.ctx.config, log: server.ctx.log });
    tenant = await createTenant(server.ctx, { name: "Alpine Bakery", phone: "+18015550131", channel: "telegram" });
    await setTelegramChat(server.ctx.db, tenant.id, "4343");
  });
  afterAll(async () => {
    await server?.cleanup();
    await anthropic?.stop();
    await telegram?.stop();
  });
  beforeEach(() => anthropic.reset());

  async function run(prompt: string) {
    const issued = tools.issueToken(tenant.id, crypto.randomUUID());
    try {
      return await runner.run({
        tenantId: tenant.id,
        workspace: workspacePath(server.ctx.config, tenant.id),
        uid: await tenantUid(server.ctx.db, tenant.id),
        prompt,
        sessionId: null,
        tenantEnv: {},
        timezone: tenant.timezone,
        mcp: { url: tools.url(`http://127.0.0.1:${server.server.server.port}`), token: issued.token },
      });
    } finally {
      issued.revoke();
    }
  }

  test("the model's send_file call delivers the workspace PDF's exact bytes to the chat, once", async () => {
    writeFileSync(join(workspacePath(server.ctx.config, tenant.id), "quote-7.pdf"), PDF, { mode: 0o644 });
    anthropic.enqueue({
      type: "tool_use",
      name: "mcp__proxystaff__send_file",
      input: { path: "quote-7.pdf", caption: "Your quote" },
    });
    const result = await run("Send me the quote you wrote");
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") throw new Error("unreachable");
    expect(result.text).toContain("Queued quote-7.pdf");
    await eventually(() => telegram.sentFiles.length === 1, "the PDF at the fake Telegram");
    expect(telegram.sentFiles[0]).toMatchObject({
      method: "sendDocument",
      chat_id: "4343",
      caption: "Your quote",
      fileName: "quote-7.pdf",
    });
    expect(telegram.sentFiles[0]!.bytes).toEqual(PDF);
  }, 150_000);

  test("a path out of the workspace comes back to the model as a clear tool error, and nothing is sent", async () => {
    const before = telegram.sentFiles.length;
    anthropic.enqueue({ type: "tool_use", name: "mcp__proxystaff__send_file", input: { path: "../../etc/passwd" } });
    const result = await run("Send me the password file");
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") throw new Error("unreachable");
    expect(result.text).toContain("outside your working folder");
    expect(telegram.sentFiles.length).toBe(before);
  }, 150_000);
});
