// The runner against the REAL Claude Code CLI (node_modules/.bin/claude) and the loopback fake Anthropic API.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAgentRunner, runWithSessionRetry } from "../../src/agent/index.ts";
import type { ProcessAgentRunner } from "../../src/agent/runner.ts";
import { spawnProcessGroup } from "../../src/agent/runner.ts";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { CREDIT_TOO_LOW_ERROR, lastPrompt, startFakeAnthropic, userTexts } from "../fakes/anthropic.ts";
import type { AgentTestSetup } from "./setup.ts";
import { agentSetup, liveProcessesInGroup, PLATFORM_ADMIN_KEY, REAL_CLI } from "./setup.ts";

const hasCli = existsSync(REAL_CLI);
if (!hasCli) console.warn(`skipping real-CLI runner tests: ${REAL_CLI} is missing (run npm install)`);

describe.skipIf(!hasCli)("agent runner with the real Claude CLI", () => {
  let fake: FakeAnthropic;
  let setup: AgentTestSetup;
  let runner: ProcessAgentRunner;

  beforeAll(() => {
    fake = startFakeAnthropic();
    setup = agentSetup({}, fake.url);
    runner = createAgentRunner({ config: setup.config, log: setup.log });
  });
  afterAll(async () => {
    await fake.stop();
    setup.cleanup();
  });
  beforeEach(() => {
    fake.reset();
    fake.setHandler(undefined);
  });

  test("finds the project's own CLI and answers ok with a session id", async () => {
    expect(runner.command.source).toBe("node_modules");
    fake.enqueue({ type: "text", text: "Hello from the fake" });
    const result = await runner.run(setup.request("tenant-a", "Hi there"));
    expect(result).toMatchObject({ kind: "ok", text: "Hello from the fake", exitCode: 0 });
    if (result.kind !== "ok") throw new Error("unreachable");
    expect(result.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(lastPrompt(fake.messageRequests()[0]?.body)).toBe("Hi there");
    // Transcripts live in the tenant's own CLI directory under CLAUDE_CONFIG_DIR (survives redeploys).
    expect(existsSync(join(setup.config.CLAUDE_CONFIG_DIR, "tenants", "tenant-a", "projects"))).toBe(true);
  });

  test("--resume sends the earlier turns again", async () => {
    fake.enqueue({ type: "text", text: "First answer" }, { type: "text", text: "Second answer" });
    const first = await runner.run(setup.request("tenant-a", "My name is Ada"));
    if (first.kind !== "ok") throw new Error(`first run: ${JSON.stringify(first)}`);
    const second = await runner.run(setup.request("tenant-a", "What is my name?", { sessionId: first.sessionId }));
    expect(second).toMatchObject({ kind: "ok", text: "Second answer", sessionId: first.sessionId });
    const raw = fake.messageRequests().at(-1)?.raw ?? "";
    expect(userTexts(fake.messageRequests().at(-1)?.body)).toEqual(["My name is Ada", "What is my name?"]);
    expect(raw).toContain("First answer");
  });

  test("the tenant's credential reaches Bash, the platform's secrets do not", async () => {
    fake.enqueue({
      type: "tool_use",
      name: "Bash",
      input: {
        command: 'echo "sendgrid=$(printenv SENDGRID_API_KEY) admin=$(printenv ADMIN_API_KEY) tz=$TZ pwd=$(pwd)"',
      },
    });
    const tenantEnv = {
      SENDGRID_API_KEY: "SG.tenant-a-value",
      ADMIN_API_KEY: "tenant-tries-this",
      SNEAKY: PLATFORM_ADMIN_KEY,
    };
    const request = setup.request("tenant-a", "check env", { tenantEnv });
    const result = await runner.run(request);
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") throw new Error("unreachable");
    expect(result.text).toContain("sendgrid=SG.tenant-a-value");
    expect(result.text).toContain("admin= ");
    expect(result.text).toContain("tz=America/Denver");
    expect(result.text).toContain(`pwd=${request.workspace}`);
    for (const r of fake.requests) expect(r.raw).not.toContain(PLATFORM_ADMIN_KEY);
    expect(setup.logLines.join("\n")).toContain('"names":["ADMIN_API_KEY","SNEAKY"]');
  });

  test("credit too low is classified from the API's 400 error", async () => {
    fake.enqueue(CREDIT_TOO_LOW_ERROR);
    const result = await runner.run(setup.request("tenant-a", "hello"));
    expect(result).toMatchObject({ kind: "credit_too_low", error: "Credit balance is too low" });
  });

  test("a stale session is classified, and runWithSessionRetry starts fresh once", async () => {
    const stale = "6f1c4f0e-1111-4222-8333-444455556666";
    const direct = await runner.run(setup.request("tenant-a", "hello", { sessionId: stale }));
    expect(direct.kind).toBe("session_not_found");
    expect(fake.messageRequests()).toHaveLength(0);

    fake.enqueue({ type: "text", text: "fresh start" });
    const retried = await runWithSessionRetry(runner, setup.request("tenant-a", "hello again", { sessionId: stale }));
    expect(retried).toMatchObject({ kind: "ok", text: "fresh start", sessionReset: true });
    if (retried.kind !== "ok") throw new Error("unreachable");
    expect(retried.sessionId).not.toBe(stale);
    expect(userTexts(fake.messageRequests()[0]?.body)).toEqual(["hello again"]);
  });

  test("a large prompt (150 kB) reaches the model through stdin", async () => {
    const prompt = `big ${"x".repeat(150_000)}`;
    const result = await runner.run(setup.request("tenant-a", prompt));
    expect(result.kind).toBe("ok");
    expect(lastPrompt(fake.messageRequests()[0]?.body)).toBe(prompt);
  });

  test("past AGENT_TIMEOUT_MS the whole process group is killed", async () => {
    const short = agentSetup({ AGENT_TIMEOUT_MS: "1500" }, fake.url);
    try {
      let pid = 0;
      const timed = createAgentRunner(
        { config: short.config, log: short.log },
        {
          killGraceMs: 500,
          spawn: (spec) => {
            const child = spawnProcessGroup(spec);
            pid = child.pid;
            return child;
          },
        },
      );
      fake.enqueue({ type: "hang" });
      writeFileSync(join(short.workspace("tenant-t"), "note.txt"), "x");
      const result = await timed.run(short.request("tenant-t", "take forever"));
      expect(result.kind).toBe("timeout");
      await Bun.sleep(50);
      expect(liveProcessesInGroup(pid)).toEqual([]);
    } finally {
      short.cleanup();
    }
  });
});
