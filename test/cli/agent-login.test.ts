// The model login pre-flight: `serve` warns and /health says agent_login; `chat` refuses to start without one.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentLoginProblem, findAgentLogin, isAgentLoginMissing } from "../../src/agent/login.ts";
import type { CommandIO } from "../../src/cli/command.ts";
import { runCli } from "../../src/cli/run.ts";
import { spawnServer, TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY } from "../helpers/index.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ps-login-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function loginConfig(
  auth: Record<string, string>,
  configDir = join(dir, "claude-none"),
  gateway: "on" | "off" = "off",
) {
  return { agentAuthEnv: auth, CLAUDE_CONFIG_DIR: configDir, MODEL_GATEWAY: gateway };
}

describe("findAgentLogin", () => {
  test("env first (API key wins over a token), then the login file; missing names the file", () => {
    expect(findAgentLogin(loginConfig({ ANTHROPIC_API_KEY: "k" }))).toEqual({ kind: "api_key", isBothSet: false });
    expect(findAgentLogin(loginConfig({ ANTHROPIC_API_KEY: "k", CLAUDE_CODE_OAUTH_TOKEN: "t" }))).toEqual({
      kind: "api_key",
      isBothSet: true,
    });
    expect(findAgentLogin(loginConfig({ CLAUDE_CODE_OAUTH_TOKEN: "t" }))).toEqual({ kind: "oauth_token" });
    const missing = findAgentLogin(loginConfig({ ANTHROPIC_BASE_URL: "http://127.0.0.1:1" }));
    expect(missing.kind).toBe("missing");
    expect(isAgentLoginMissing(missing)).toBe(true);
    const problem = agentLoginProblem(missing, loginConfig({}));
    expect(problem).toBe(
      `no model login: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN, or put a plan login in ${join(dir, "claude-none", ".credentials.json")}; agent runs will fail`,
    );
    // With the gateway on a plan login file is not used, so it is not suggested.
    expect(agentLoginProblem(missing, loginConfig({}, undefined, "on"))).toBe(
      "no model login: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN (`claude setup-token` prints one); agent runs will fail",
    );
  });

  test("the login file: a plan login, another shape (may work), or not JSON (will not)", () => {
    const configDir = join(dir, "claude-file");
    mkdirSync(configDir, { recursive: true });
    const file = join(configDir, ".credentials.json");
    writeFileSync(file, JSON.stringify({ claudeAiOauth: { accessToken: "sk-ant-oat01-x" } }));
    expect(findAgentLogin(loginConfig({}, configDir))).toEqual({ kind: "credentials_file", file });
    writeFileSync(file, JSON.stringify({ somethingNew: true }));
    const other = findAgentLogin(loginConfig({}, configDir));
    expect(other.kind).toBe("credentials_file_unrecognised");
    expect(agentLoginProblem(other, loginConfig({}, configDir))).toBeNull();
    writeFileSync(file, "{not json");
    const broken = findAgentLogin(loginConfig({}, configDir));
    expect(broken.kind).toBe("credentials_file_unreadable");
    expect(isAgentLoginMissing(broken)).toBe(true);
    expect(agentLoginProblem(broken, loginConfig({}, configDir))).toContain("cannot be read as JSON");
  });

  test("MODEL_GATEWAY=on: a plan login file is not used; the start-up warning says `claude setup-token` → CLAUDE_CODE_OAUTH_TOKEN", () => {
    const configDir = join(dir, "claude-plan");
    mkdirSync(configDir, { recursive: true });
    const file = join(configDir, ".credentials.json");
    writeFileSync(file, JSON.stringify({ claudeAiOauth: { accessToken: "sk-ant-oat01-x", expiresAt: 1 } }));
    const state = findAgentLogin(loginConfig({}, configDir, "on"));
    expect(state.kind).toBe("credentials_file");
    const problem = agentLoginProblem(state, loginConfig({}, configDir, "on"));
    expect(problem).toContain("claude setup-token");
    expect(problem).toContain("CLAUDE_CODE_OAUTH_TOKEN");
    expect(problem).not.toContain("sk-ant-oat01-x");
    // With a token in the environment the file is irrelevant: no problem.
    expect(
      agentLoginProblem(
        findAgentLogin(loginConfig({ CLAUDE_CODE_OAUTH_TOKEN: "t" }, configDir, "on")),
        loginConfig({ CLAUDE_CODE_OAUTH_TOKEN: "t" }, configDir, "on"),
      ),
    ).toBeNull();
  });
});

describe("serve without a model login", () => {
  test("starts, logs one clear warning, and /health says agent_login: missing (not degraded); a login file put in place shows at once", async () => {
    const server = await spawnServer({});
    try {
      const warning = await server.waitForLog(
        (l) => l.level === "warn" && typeof l.msg === "string" && l.msg.startsWith("no model login"),
      );
      // MODEL_GATEWAY=on (the default): a plan login file is not suggested, a setup token is.
      expect(warning.msg).toContain(
        "set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN (`claude setup-token` prints one)",
      );
      expect(warning.msg).not.toContain(".credentials.json");
      expect(warning.msg).toContain("agent runs will fail");
      const res = await fetch(`${server.url}/health`);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body.agent_login).toBe("missing");
      expect(res.status).toBe(200); // not degraded: the operator must still reach the machine to log in
      expect(body.status).toBe("ok");
      mkdirSync(join(server.dataDir, "claude"), { recursive: true });
      writeFileSync(
        join(server.dataDir, "claude", ".credentials.json"),
        JSON.stringify({ claudeAiOauth: { accessToken: "sk-ant-oat01-y" } }),
      );
      const after = (await (await fetch(`${server.url}/health`)).json()) as Record<string, unknown>;
      expect(after.agent_login).toBe("credentials_file");
    } finally {
      await server.cleanup();
    }
  }, 30_000);

  test("with ANTHROPIC_API_KEY: no warning, agent_login: api_key", async () => {
    const server = await spawnServer({ env: { ANTHROPIC_API_KEY: "sk-ant-test-key" } });
    try {
      const body = (await (await fetch(`${server.url}/health`)).json()) as Record<string, unknown>;
      expect(body.agent_login).toBe("api_key");
      expect(server.logs().some((l) => typeof l.msg === "string" && l.msg.includes("model login"))).toBe(false);
    } finally {
      await server.cleanup();
    }
  }, 30_000);
});

describe("proxystaff chat without a model login", () => {
  function captureIO(env: Record<string, string>): CommandIO & { stdout: string[]; stderr: string[] } {
    const stdout: string[] = [];
    const stderr: string[] = [];
    return {
      stdout,
      stderr,
      out: (l) => stdout.push(l),
      err: (l) => stderr.push(l),
      env,
      isInteractive: false,
      readLine: async () => null,
    };
  }

  test("refuses to start: the message, exit 1, nothing stored", async () => {
    const env = {
      DATA_DIR: join(dir, "chat-data"),
      TENANTS_DIR: join(dir, "chat-tenants"),
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
    };
    const created = captureIO(env);
    expect(
      await runCli(
        ["create-tenant", "--name", "Login Bakery", "--phone", "+18015550999", "--channel", "telegram"],
        created,
      ),
    ).toBe(0);
    const tenantId = /[0-9a-f-]{36}/.exec(created.stdout.join("\n"))![0];
    const chat = captureIO(env);
    expect(await runCli(["chat", tenantId, "-m", "hello"], chat)).toBe(1);
    expect(chat.stderr.join("\n")).toContain("no model login: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN");
    expect(chat.stdout.join("\n")).not.toContain("you> hello");
    const read = captureIO(env);
    expect(await runCli(["read-messages", tenantId], read)).toBe(0);
    expect(read.stdout.join("\n")).toContain("No messages");
  });
});
