import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { AgentResult, AgentRunRequest } from "../../src/agent/runner.ts";
import type { AppContext } from "../../src/context.ts";
import { setCredentials } from "../../src/credentials/index.ts";
import { openChatSession } from "../../src/parts.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant } from "../helpers/index.ts";

/** One tools/call on the run's MCP endpoint, as the CLI would make it. */
async function callTool(
  mcp: { url: string; token: string },
  name: string,
  args: Record<string, unknown>,
): Promise<{ status: number; text: string }> {
  const res = await fetch(mcp.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${mcp.token}`,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
  });
  return { status: res.status, text: await res.text() };
}

describe("proxystaff chat: the same runner, tools and secrets rule as the server", () => {
  let tc: TestContext;
  let ctx: AppContext;
  beforeEach(async () => {
    tc = await createTestContext({ clock: { now: () => Date.now() } });
    ctx = tc.ctx;
  });
  afterEach(() => tc.cleanup());

  test("server-side keys stay out of the agent's environment; the MCP tools answer on loopback", async () => {
    const t = await insertTenant(ctx);
    await setCredentials(ctx, t.id, { SENDGRID_API_KEY: "SG.secret-value-123", SHOP_API_KEY: "shop-key-456" });
    const printed: string[] = [];
    const requests: AgentRunRequest[] = [];
    const toolAnswers: { status: number; text: string }[] = [];
    const runner: AgentRunner = {
      async run(req): Promise<AgentResult> {
        requests.push(req);
        if (req.mcp) toolAnswers.push(await callTool(req.mcp, "send_message", { text: "working on it…" }));
        return { kind: "ok", text: "all done", sessionId: "sess-chat", durationMs: 1, exitCode: 0 };
      },
    };
    const session = await openChatSession(ctx, t.id, { print: (text) => printed.push(text), runner, pollMs: 10 });
    try {
      await session.send("email my supplier");
      while (printed.length < 2) await Bun.sleep(10);
    } finally {
      await session.close();
    }
    const [req] = requests;
    expect(req!.tenantEnv.SENDGRID_API_KEY).toBeUndefined();
    expect(req!.tenantEnv.SHOP_API_KEY).toBe("shop-key-456");
    expect(req!.mcp?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(toolAnswers[0]!.status).toBe(200);
    expect(printed.sort()).toEqual(["all done", "working on it…"]);
  });
});

describe("proxystaff chat: the timeline names the operator once", () => {
  let tc: TestContext;
  let ctx: AppContext;
  beforeEach(async () => {
    tc = await createTestContext({ clock: { now: () => Date.now() } });
    ctx = tc.ctx;
  });
  afterEach(() => tc.cleanup());

  test("'← operator (console): …', not 'operator (console) (console)'; the agent reads the operator as sender", async () => {
    const t = await insertTenant(ctx);
    const requests: AgentRunRequest[] = [];
    const runner: AgentRunner = {
      async run(req): Promise<AgentResult> {
        requests.push(req);
        return { kind: "ok", text: "noted", sessionId: "sess-console", durationMs: 1, exitCode: 0 };
      },
    };
    const session = await openChatSession(ctx, t.id, { print: () => {}, runner, pollMs: 10 });
    try {
      await session.send("check the stock");
    } finally {
      await session.close();
    }
    const dir = join(ctx.config.TENANTS_DIR, t.id, "timeline");
    const timeline = readdirSync(dir)
      .map((f) => readFileSync(join(dir, f), "utf8"))
      .join("");
    expect(timeline).toContain("← operator (console): check the stock");
    expect(timeline).not.toContain("(console) (console)");
    expect(requests[0]!.prompt).toContain("[Message from operator,");
  });

  test("a failed run: the operator is told what happened, not the customer's apology", async () => {
    const t = await insertTenant(ctx);
    const printed: string[] = [];
    const runner: AgentRunner = {
      run: async (): Promise<AgentResult> => ({ kind: "crash", error: "Not logged in", durationMs: 1, exitCode: 1 }),
    };
    const session = await openChatSession(ctx, t.id, { print: (text) => printed.push(text), runner, pollMs: 10 });
    try {
      await session.send("hello");
    } finally {
      await session.close();
    }
    expect(printed).toHaveLength(1);
    expect(printed[0]).toStartWith('(The agent run failed: the reason is in the "agent run failed" log line above');
  });
});
