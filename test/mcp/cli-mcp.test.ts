import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createAgentRunner } from "../../src/agent/index.ts";
import type { AgentRunRequest, ProcessAgentRunner } from "../../src/agent/runner.ts";
import { spawnProcessGroup } from "../../src/agent/runner.ts";
import { setCredentials, tenantEnvironment } from "../../src/credentials/index.ts";
import type { AgentTools } from "../../src/mcp/index.ts";
import { createAgentTools, SERVER_SIDE_CREDENTIALS } from "../../src/mcp/index.ts";
import { listTasks } from "../../src/scheduler/index.ts";
import type { Tenant } from "../../src/tenants/index.ts";
import { createTenant, setTelegramChat, tenantUid, workspacePath } from "../../src/tenants/index.ts";
import { liveProcessesInGroup, REAL_CLI } from "../agent/setup.ts";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { startFakeAnthropic } from "../fakes/anthropic.ts";
import type { FakeSendGrid } from "../fakes/sendgrid.ts";
import { startFakeSendGrid } from "../fakes/sendgrid.ts";
import type { TestServer } from "../helpers/index.ts";
import { startTestServer } from "../helpers/index.ts";

// The MCP tools driven by the REAL Claude Code CLI (node_modules/.bin/claude) through the agent runner,
// with the loopback fake Anthropic API scripting the model's tool calls.

const hasCli = existsSync(REAL_CLI);
if (!hasCli) console.warn(`skipping real-CLI MCP tests: ${REAL_CLI} is missing (run npm install)`);

const SENDGRID_KEY = "SG.cli-test-tenant-key-5f2a9c1e7b";

describe.skipIf(!hasCli)("MCP tools with the real Claude CLI", () => {
  let anthropic: FakeAnthropic;
  let sendgrid: FakeSendGrid;
  let server: TestServer;
  let tools: AgentTools;
  let runner: ProcessAgentRunner;
  let tenant: Tenant;
  const outbox: { text: string; chatId: string }[] = [];

  beforeAll(async () => {
    anthropic = startFakeAnthropic();
    sendgrid = startFakeSendGrid({ apiKeys: [SENDGRID_KEY] });
    server = await startTestServer({
      env: {
        ANTHROPIC_BASE_URL: anthropic.url,
        ANTHROPIC_API_KEY: "sk-ant-fake-platform-key",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        ENABLE_TOOL_SEARCH: "false",
        DISABLE_AUTOUPDATER: "1",
        AGENT_ARGS: "--allowedTools Bash,mcp__proxystaff",
        AGENT_SANDBOX: "none",
        MODEL_GATEWAY: "off", // the runner alone, with the login in the agent's env (the gateway: test/gateway/)
        SENDGRID_API_BASE: sendgrid.url,
      },
      build: async (ctx) => {
        tools = createAgentTools(ctx, { outbox: { enqueue: async (m) => void outbox.push(m) } });
        return [{ routes: tools.routes }];
      },
    });
    runner = createAgentRunner({ config: server.ctx.config, log: server.ctx.log });
    tenant = await createTenant(server.ctx, {
      name: "Alpine Bakery",
      phone: "+18015550111",
      channel: "telegram",
      timezone: "America/Denver",
    });
    await setTelegramChat(server.ctx.db, tenant.id, "4242");
  });
  afterAll(async () => {
    await server.cleanup();
    await anthropic.stop();
    await sendgrid.stop();
  });
  beforeEach(() => {
    anthropic.reset();
    anthropic.setHandler(undefined);
  });

  /** What the conversation engine does per run: a fresh token, the tenant's env minus server-side keys. */
  async function runWithTools(
    prompt: string,
  ): Promise<{ result: Awaited<ReturnType<ProcessAgentRunner["run"]>>; request: AgentRunRequest }> {
    const issued = tools.issueToken(tenant.id, crypto.randomUUID());
    const env = await tenantEnvironment(server.ctx, tenant);
    for (const key of SERVER_SIDE_CREDENTIALS) delete env[key];
    const request: AgentRunRequest = {
      tenantId: tenant.id,
      workspace: workspacePath(server.ctx.config, tenant.id),
      uid: await tenantUid(server.ctx.db, tenant.id),
      prompt,
      sessionId: null,
      tenantEnv: env,
      timezone: tenant.timezone,
      mcp: { url: tools.url(`http://127.0.0.1:${server.server.server.port}`), token: issued.token },
    };
    try {
      return { result: await runner.run(request), request };
    } finally {
      issued.revoke();
    }
  }

  test("the model's schedule_task call (run_at 2 s ahead) stores the task for the token's tenant", async () => {
    // Computed when the model is asked, so "2 s ahead" is measured from the tool call, not from CLI start-up.
    anthropic.setHandler((req) => {
      if (
        req.side ||
        req.body?.messages?.some((m) => Array.isArray(m.content) && m.content.some((b) => b.type === "tool_result"))
      )
        return undefined;
      const tools = req.body?.tools?.map((t) => t.name) ?? [];
      if (!tools.includes("mcp__proxystaff__schedule_task"))
        return { type: "text", text: `no MCP tools listed: ${tools.join(",")}` };
      return {
        type: "tool_use",
        name: "mcp__proxystaff__schedule_task",
        input: { prompt: "Tell the owner the bread is ready", run_at: new Date(Date.now() + 2000).toISOString() },
      };
    });
    const { result } = await runWithTools("Remind me in two seconds that the bread is ready");
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") throw new Error("unreachable");
    expect(result.text).toContain("Scheduled task");
    const tasks = await listTasks(server.ctx.db, { tenantId: tenant.id });
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      prompt: "Tell the owner the bread is ready",
      created_by: "agent",
      status: "PENDING",
    });
    expect(result.text).toContain(tasks[0]?.id ?? "?");
  }, 60_000);

  test("send_email reaches SendGrid with the tenant's key; the agent's env and the API traffic never hold it", async () => {
    await setCredentials(server.ctx, tenant.id, {
      SENDGRID_API_KEY: SENDGRID_KEY,
      SENDGRID_FROM_EMAIL: "orders@alpine.example",
    });
    anthropic.enqueue({
      type: "tool_use",
      name: "mcp__proxystaff__send_email",
      input: { to: "supplier@example.com", subject: "Flour order", text: "Two sacks for Friday, please." },
      after: {
        type: "tool_use",
        name: "Bash",
        input: { command: 'echo "key=[$(printenv SENDGRID_API_KEY)] from=[$(printenv SENDGRID_FROM_EMAIL)]"' },
      },
    });
    const { result } = await runWithTools("Email the supplier our flour order");
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") throw new Error("unreachable");
    // The Bash step proves the agent's environment lacks the key (the sender address is not secret).
    expect(result.text).toContain("key=[] from=[orders@alpine.example]");
    expect(sendgrid.sent).toHaveLength(1);
    expect(sendgrid.requests.at(-1)?.authorization).toBe(`Bearer ${SENDGRID_KEY}`);
    expect(sendgrid.sent[0]).toMatchObject({
      to: ["supplier@example.com"],
      subject: "Flour order",
      from: "orders@alpine.example",
    });
    const toolResult = JSON.stringify(anthropic.requests.map((r) => r.raw));
    expect(toolResult).toContain("Email sent to supplier@example.com");
    expect(toolResult).not.toContain(SENDGRID_KEY);
    const transcripts = filesUnder(join(server.ctx.config.CLAUDE_CONFIG_DIR));
    expect(transcripts.some((f) => f.endsWith(".jsonl"))).toBe(true);
    for (const file of transcripts) expect(readFileSync(file, "utf8")).not.toContain(SENDGRID_KEY);
  }, 60_000);

  test("neither the prompt nor the MCP token is in any argv of the run, and the tools still reach the model", async () => {
    let group = 0;
    const spied = createAgentRunner(
      { config: server.ctx.config, log: server.ctx.log },
      {
        spawn: (spec) => {
          const child = spawnProcessGroup(spec);
          group = child.pid;
          return child;
        },
      },
    );
    const seen: string[] = [];
    // Asked while the CLI waits for the model: every process of the run is alive at that moment.
    anthropic.setHandler((req) => {
      if (req.side) return undefined;
      for (const pid of liveProcessesInGroup(group)) seen.push(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
      const names = req.body?.tools?.map((t) => t.name) ?? [];
      return {
        type: "text",
        text: names.includes("mcp__proxystaff__schedule_task") ? "tools listed" : `no MCP tools: ${names.join(",")}`,
      };
    });
    const issued = tools.issueToken(tenant.id, crypto.randomUUID());
    try {
      const result = await spied.run({
        tenantId: tenant.id,
        workspace: workspacePath(server.ctx.config, tenant.id),
        prompt: "argv-secret-marker: what tools do you have?",
        sessionId: null,
        uid: await tenantUid(server.ctx.db, tenant.id),
        tenantEnv: {},
        timezone: tenant.timezone,
        mcp: { url: tools.url(`http://127.0.0.1:${server.server.server.port}`), token: issued.token },
      });
      expect(result).toMatchObject({ kind: "ok", text: "tools listed" });
    } finally {
      issued.revoke();
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.join("\n")).toContain("--mcp-config");
    expect(seen.join("\n")).not.toContain("argv-secret-marker");
    expect(seen.join("\n")).not.toContain(issued.token);
    const prompts = anthropic.messageRequests().map((r) => JSON.stringify(r.body?.messages ?? []));
    expect(prompts.some((p) => p.includes("argv-secret-marker"))).toBe(true);
  }, 60_000);

  test("a revoked token leaves the model without the tools' effects", async () => {
    const issued = tools.issueToken(tenant.id, "revoked-run");
    issued.revoke();
    anthropic.enqueue({
      type: "tool_use",
      name: "mcp__proxystaff__schedule_task",
      input: { prompt: "never", in_minutes: 5 },
    });
    const before = (await listTasks(server.ctx.db, { tenantId: tenant.id })).length;
    const result = await runner.run({
      tenantId: tenant.id,
      workspace: workspacePath(server.ctx.config, tenant.id),
      uid: await tenantUid(server.ctx.db, tenant.id),
      prompt: "schedule something",
      sessionId: null,
      tenantEnv: {},
      timezone: tenant.timezone,
      mcp: { url: tools.url(`http://127.0.0.1:${server.server.server.port}`), token: issued.token },
    });
    expect(result.kind).toBe("ok");
    expect((await listTasks(server.ctx.db, { tenantId: tenant.id })).length).toBe(before);
  }, 60_000);
});

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
