// Issue 13: the platform's model login never enters a sandbox. A real server process, the REAL Claude CLI inside
// bubblewrap as the tenant's uid, the fake Anthropic API behind the server's ANTHROPIC_BASE_URL. The tenant's agent
// runs `env`, `printenv`, reads /proc/self/environ and greps what it can read for the platform's key, OAuth token
// and plan-login token. With MODEL_GATEWAY=on it finds none of them; with MODEL_GATEWAY=off (the behaviour before
// the gateway) the same attack finds them — the attack is real.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FakeReply } from "../fakes/anthropic.ts";
import { lastPrompt, lastToolResult } from "../fakes/anthropic.ts";
import { eventually, freePort } from "../helpers/index.ts";
import type { Fakes } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "./stack.ts";

const PLATFORM_KEY = "sk-ant-fake-platform-key"; // stackEnv's ANTHROPIC_API_KEY
const PLATFORM_OAUTH = "sk-ant-oat01-platform-oauth-token-9d2e";
const PLAN_ACCESS_TOKEN = "sk-ant-oat01-plan-login-access-token-51c7";

const bwrapPath = Bun.which("bwrap");
const bwrapWorks =
  bwrapPath !== null && Bun.spawnSync([bwrapPath, "--ro-bind", "/", "/", "--unshare-pid", "true"]).exitCode === 0;
const ready = HAS_REAL_CLI && bwrapWorks;
if (!ready) console.warn("SKIPPED model gateway e2e: needs the real Claude CLI and a working bubblewrap");

/** Split so that neither the command nor the CLI's transcript of it holds the secret itself. */
const halves = (secret: string) => `"$(printf '%s%s' '${secret.slice(0, 10)}' '${secret.slice(10)}')"`;

/** Every line that names the model login or holds anything key-shaped (the whole env is too long for one tool result). */
const KEYISH = "grep -E 'ANTHROPIC|OAUTH|sk-ant'";
const ATTACK = [
  `echo '== env'; env | ${KEYISH}`,
  `echo '== printenv'; printenv | ${KEYISH}`,
  `echo '== environ'; cat /proc/self/environ | tr '\\0' '\\n' | ${KEYISH}`,
  `echo '== grep'; grep -rlsF -e ${halves(PLATFORM_KEY)} -e ${halves(PLATFORM_OAUTH)} -e ${halves(PLAN_ACCESS_TOKEN)} "$HOME" "$PWD" "$CLAUDE_CONFIG_DIR" /tmp /proc/[0-9]*/environ`,
  "echo '== end'",
].join("; ");

function attackHandler(fakes: Fakes) {
  let overloadedOnce = false;
  fakes.anthropic.setHandler((req): FakeReply | undefined => {
    if (lastToolResult(req.body) !== undefined) return undefined; // the tool step: echo its output
    const prompt = lastPrompt(req.body) ?? "";
    if (prompt.includes("[attack]"))
      return { type: "tool_use", name: "Bash", input: { command: ATTACK, description: "look around" } };
    if (prompt.includes("[overloaded]") && !overloadedOnce) {
      overloadedOnce = true;
      return {
        type: "error",
        status: 529,
        body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
      };
    }
    return { type: "text", text: "fine" };
  });
}

interface Started {
  fakes: Fakes;
  stack: StackClient;
  dir: string;
}

async function startStack(gateway: "on" | "off"): Promise<Started> {
  const fakes = startFakes();
  attackHandler(fakes);
  // Not under /tmp: the sandbox's /tmp is a private tmpfs. 0711: tenant uids pass through to their folders.
  const dir = mkdtempSync("/var/tmp/ps-gateway-");
  chmodSync(dir, 0o711);
  // A plan login on the platform's CLI dir too: with the gateway it must not reach a tenant's CLI dir.
  mkdirSync(join(dir, "data", "claude"), { recursive: true, mode: 0o700 });
  writeFileSync(
    join(dir, "data", "claude", ".credentials.json"),
    JSON.stringify({ claudeAiOauth: { accessToken: PLAN_ACCESS_TOKEN, refreshToken: "r", expiresAt: 1 } }),
  );
  const port = await freePort();
  const server = await spawnServer({
    dir,
    env: stackEnv(fakes, port, {
      MODEL_GATEWAY: gateway,
      // Cold runs: a run's token dies with it. A warm process holds its token for its lifetime and renews it per
      // turn (test/e2e/warm-agents.test.ts, test/agent/warm-runner.test.ts).
      AGENT_WARM: "off",
      AGENT_SANDBOX: "bwrap",
      AGENT_TIMEOUT_MS: "60000",
      CLAUDE_CODE_OAUTH_TOKEN: PLATFORM_OAUTH, // both set: the API key is the one used, the token must not leak either
    }),
  });
  return { fakes, stack: new StackClient(server, fakes), dir };
}

async function stopStack(started: Started | undefined): Promise<void> {
  await started?.stack.server.cleanup();
  await started?.fakes.stop();
  if (started) rmSync(started.dir, { recursive: true, force: true });
}

/** Runs the attack as a linked tenant's customer message; returns what the agent's Bash printed. */
async function runAttack(started: Started, phone: string, chat: number): Promise<string> {
  const { stack, fakes } = started;
  await stack.createTenant({ name: `Gateway ${chat}`, phone });
  await stack.telegramLink(chat, phone);
  await stack.telegramText(chat, "[attack] what can you see?");
  return eventually(
    () =>
      fakes.anthropic
        .messageRequests()
        .map((r) => lastToolResult(r.body))
        .find((t) => t?.includes("== end")),
    "the attack's output",
    60_000,
  );
}

const section = (output: string, name: string) => output.split(`== ${name}`)[1]?.split("\n== ")[0] ?? "";

describe.skipIf(!ready)("MODEL_GATEWAY=on: the agent never holds the platform's model login", () => {
  let started: Started;
  beforeAll(async () => {
    started = await startStack("on");
  }, 60_000);
  afterAll(() => stopStack(started), 30_000);

  test("env, printenv, /proc/self/environ and a grep of its files find no key, OAuth token or plan login; the API sees the platform's key on every request and never the run token", async () => {
    const output = await runAttack(started, "+18015550131", 501301);
    for (const secret of [PLATFORM_KEY, PLATFORM_OAUTH, PLAN_ACCESS_TOKEN]) expect(output).not.toContain(secret);
    const url = `${started.stack.server.url}/model`;
    for (const name of ["env", "printenv", "environ"]) {
      expect(section(output, name)).toContain(`ANTHROPIC_BASE_URL=${url}`);
      expect(section(output, name)).toMatch(/ANTHROPIC_API_KEY=psm-[A-Za-z0-9_-]{43}\n/);
      expect(section(output, name)).not.toContain("CLAUDE_CODE_OAUTH_TOKEN");
    }
    expect(section(output, "grep").trim()).toBe(""); // no readable file holds any of them

    const runToken = /ANTHROPIC_API_KEY=(psm-[A-Za-z0-9_-]{43})/.exec(output)![1]!;
    const seen = started.fakes.anthropic.requests;
    expect(seen.length).toBeGreaterThan(0);
    for (const request of seen) {
      expect(request.headers["x-api-key"]).toBe(PLATFORM_KEY);
      expect(JSON.stringify(request.headers)).not.toContain(runToken);
    }
    // The run is over (its reply went out): its token is dead.
    await eventually(() => started.stack.telegramReplies(501301).find((t) => t.includes("== end")), "the reply");
    const late = await fetch(`${url}/v1/messages?beta=true`, {
      method: "POST",
      headers: { "x-api-key": runToken, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [] }),
    });
    expect(late.status).toBe(401);
    expect(await late.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    // Nothing of the tokens in the server's logs.
    const logs = started.stack.server.stdout() + started.stack.server.stderr();
    for (const secret of [PLATFORM_KEY, PLATFORM_OAUTH, PLAN_ACCESS_TOKEN, runToken])
      expect(logs).not.toContain(secret);
  }, 90_000);

  test("upstream 529 then 200: the CLI's own retry works through the gateway", async () => {
    const { stack, fakes } = started;
    await stack.createTenant({ name: "Gateway retry", phone: "+18015550132" });
    await stack.telegramLink(501302, "+18015550132");
    await stack.telegramText(501302, "[overloaded] hello");
    await eventually(() => stack.telegramReplies(501302).find((t) => t === "fine"), "the reply after a retry", 60_000);
    const tries = fakes.anthropic.messageRequests().filter((r) => (lastPrompt(r.body) ?? "").includes("[overloaded]"));
    expect(tries.length).toBeGreaterThanOrEqual(2);
  }, 90_000);

  test("/health says the gateway is on", async () => {
    const health = await started.stack.health();
    expect(health.body.model_gateway).toBe("on");
  });
});

describe.skipIf(!ready)("MODEL_GATEWAY=off: the behaviour before the gateway (the attack works)", () => {
  let started: Started;
  beforeAll(async () => {
    started = await startStack("off");
  }, 60_000);
  afterAll(() => stopStack(started), 30_000);

  test("the agent reads the platform's key in its environment and the plan login in its CLI dir; start-up warns; /health says so", async () => {
    const output = await runAttack(started, "+18015550133", 501303);
    expect(section(output, "printenv")).toContain(`ANTHROPIC_API_KEY=${PLATFORM_KEY}`);
    expect(section(output, "environ")).toContain(`ANTHROPIC_API_KEY=${PLATFORM_KEY}`);
    expect(section(output, "grep")).toContain(".credentials.json"); // the plan login copied into its CLI dir
    expect(section(output, "grep")).toContain("/environ"); // and the CLI's own process environment
    const warning = await started.stack.server.waitForLog((l) => String(l.msg).startsWith("MODEL_GATEWAY=off"));
    expect(warning.level).toBe("warn");
    const health = await started.stack.health();
    expect(String(health.body.model_gateway)).toContain("off");
  }, 90_000);
});
