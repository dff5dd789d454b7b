// Narrow runner tests with a shell stand-in for the CLI: crash, bad output, argv, environment, kill escalation.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { join } from "node:path";
import { createAgentRunner, resolveAgentCommand } from "../../src/agent/index.ts";
import { agentSetup, isRunning, PLATFORM_ADMIN_KEY, STAND_IN } from "./setup.ts";

const setup = agentSetup({
  AGENT_COMMAND: STAND_IN,
  AGENT_ARGS: `--allowedTools "Bash,Read" --model 'opus x'`,
  AGENT_TIMEOUT_MS: "800",
  TELEGRAM_BOT_TOKEN: "123456:telegram-platform-token",
});
const runner = createAgentRunner({ config: setup.config, log: setup.log }, { killGraceMs: 300 });
const withMode = (mode: string, extra: Record<string, string> = {}) =>
  setup.request("tenant-s", "hello", { tenantEnv: { STAND_IN_MODE: mode, ...extra } });

afterAll(() => setup.cleanup());

describe("runner classification with a stand-in CLI", () => {
  test("ok: text and session id", async () => {
    const result = await runner.run(withMode("ok"));
    expect(result).toMatchObject({
      kind: "ok",
      text: "echo: hello",
      sessionId: "00000000-0000-4000-8000-000000000001",
    });
  });

  test("crash: non-zero exit without JSON", async () => {
    const result = await runner.run(withMode("crash"));
    expect(result).toMatchObject({ kind: "crash", exitCode: 3 });
    if (result.kind === "crash") expect(result.error).toContain("boom");
  });

  test("bad_output: not JSON, or JSON of the wrong shape", async () => {
    expect((await runner.run(withMode("bad_output"))).kind).toBe("bad_output");
    const shape = await runner.run(withMode("bad_shape"));
    expect(shape.kind).toBe("bad_output");
    if (shape.kind === "bad_output") expect(shape.error).toContain("session_id");
  });

  test("a missing workspace or a tenant id unfit for a path is a crash, not a throw", async () => {
    const result = await runner.run({ ...withMode("ok"), workspace: join(setup.root, "nope") });
    expect(result.kind).toBe("crash");
    const traversal = await runner.run({ ...withMode("ok"), tenantId: "../escape" });
    expect(traversal.kind).toBe("crash");
  });

  test("argv: -p, json output, resume, AGENT_ARGS split like a shell, MCP config as a file path; the prompt on stdin", async () => {
    const request = {
      ...withMode("argv"),
      prompt: "-starts with a dash",
      sessionId: "11111111-2222-4333-8444-555555555555",
      mcp: { url: "http://127.0.0.1:1/mcp", token: "run-token-123456" },
    };
    const result = await runner.run(request);
    if (result.kind !== "ok") throw new Error(JSON.stringify(result));
    const argv = result.text.split("\n");
    expect(argv.slice(0, 5)).toEqual(["-p", "--output-format", "json", "--resume", request.sessionId]);
    expect(argv.slice(5, 9)).toEqual(["--allowedTools", "Bash,Read", "--model", "opus x"]);
    expect(argv[9]).toBe("--mcp-config");
    expect(argv[10]).toMatch(
      new RegExp(`^${join(setup.config.CLAUDE_CONFIG_DIR, "tenants", "tenant-s")}/mcp-[0-9a-f-]+\\.json$`),
    );
    expect(argv).toHaveLength(11);
    const echoed = await runner.run({ ...withMode("stdin"), prompt: "-starts with a dash" });
    expect(echoed).toMatchObject({ kind: "ok", text: "-starts with a dash" });
  });

  test("environment: allow-list, tenant variables, never the platform's secrets", async () => {
    const result = await runner.run(
      withMode("env", {
        SENDGRID_API_KEY: "SG.x",
        TELEGRAM_BOT_TOKEN: "t",
        HOME: "/elsewhere",
        COPY: PLATFORM_ADMIN_KEY,
      }),
    );
    if (result.kind !== "ok") throw new Error(JSON.stringify(result));
    const env = Object.fromEntries(
      result.text.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    const tenantDir = join(setup.config.CLAUDE_CONFIG_DIR, "tenants", "tenant-s");
    expect(env).toMatchObject({
      SENDGRID_API_KEY: "SG.x",
      TZ: "America/Denver",
      HOME: tenantDir,
      CLAUDE_CONFIG_DIR: tenantDir,
    });
    expect(env.ANTHROPIC_API_KEY).toBe("sk-ant-fake-platform-key");
    for (const name of ["TELEGRAM_BOT_TOKEN", "ADMIN_API_KEY", "CREDENTIALS_KEY", "COPY"])
      expect(env[name]).toBeUndefined();
    expect(result.text).not.toContain(PLATFORM_ADMIN_KEY);
    expect(result.text).not.toContain("telegram-platform-token");
  });

  test("the platform's .credentials.json login is copied into the tenant's CLI directory", async () => {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(setup.config.CLAUDE_CONFIG_DIR, { recursive: true });
    writeFileSync(join(setup.config.CLAUDE_CONFIG_DIR, ".credentials.json"), '{"claudeAiOauth":{}}');
    await runner.run(withMode("ok"));
    const copy = join(setup.config.CLAUDE_CONFIG_DIR, "tenants", "tenant-s", ".credentials.json");
    expect(readFileSync(copy, "utf8")).toBe('{"claudeAiOauth":{}}');
  });

  test("timeout kills the group; SIGKILL follows when SIGTERM is ignored", async () => {
    for (const mode of ["hang", "ignore_term"]) {
      // In the workspace: the run's uid (not root) can write there.
      const pidFile = join(setup.workspace("tenant-s"), `${mode}.pid`);
      const result = await runner.run(withMode(mode, { STAND_IN_PIDFILE: pidFile }));
      expect(result.kind).toBe("timeout");
      const grandchild = Number(readFileSync(pidFile, "utf8").trim());
      await Bun.sleep(50);
      expect(isRunning(grandchild)).toBe(false);
    }
  });

  test("an aborted signal kills the whole group at once (SIGKILL, even when SIGTERM is ignored) and the run ends as aborted", async () => {
    // The run (as the tenant's uid) writes it: in its workspace.
    const pidFile = join(setup.workspace("tenant-s"), "abort.pid");
    const lease = new AbortController();
    const started = performance.now();
    setTimeout(() => lease.abort(new Error("lease lost: taken over or freed")), 150);
    const result = await runner.run({
      ...withMode("ignore_term", { STAND_IN_PIDFILE: pidFile }),
      signal: lease.signal,
    });
    expect(result.kind).toBe("crash");
    expect(result.kind !== "ok" && result.error).toBe("aborted: lease lost: taken over or freed");
    expect(performance.now() - started).toBeLessThan(700); // not the 800 ms time limit, no SIGTERM grace
    const grandchild = Number(readFileSync(pidFile, "utf8").trim());
    await Bun.sleep(50);
    expect(isRunning(grandchild)).toBe(false);
  });

  // The lease can be lost while the run is still being prepared (the disk checks and the chown await): an abort
  // event fired then has no listener yet, so the runner must look at the signal again before it spawns.
  test("a signal aborted while the run is prepared (during the disk checks) starts nothing", async () => {
    const pidFile = join(setup.workspace("tenant-s"), "prepared.pid");
    const lease = new AbortController();
    const slowStatfs = async (path: string) => {
      lease.abort(new Error("lease lost: taken over or freed"));
      return statfs(path);
    };
    const slow = createAgentRunner(
      { config: setup.config, log: setup.log },
      { killGraceMs: 300, disk: { statfs: slowStatfs } },
    );
    const result = await slow.run({ ...withMode("hang", { STAND_IN_PIDFILE: pidFile }), signal: lease.signal });
    expect(result).toMatchObject({ kind: "crash", error: "aborted: lease lost: taken over or freed" });
    expect(() => readFileSync(pidFile)).toThrow();
  });

  test("a signal aborted before the run starts nothing", async () => {
    const pidFile = join(setup.workspace("tenant-s"), "never.pid");
    const result = await runner.run({
      ...withMode("hang", { STAND_IN_PIDFILE: pidFile }),
      signal: AbortSignal.abort(new Error("lease lost")),
    });
    expect(result).toMatchObject({ kind: "crash", error: "aborted: lease lost" });
    expect(() => readFileSync(pidFile)).toThrow();
  });

  test("AGENT_COMMAND that does not exist fails at construction with a clear message", () => {
    expect(() => resolveAgentCommand("/no/such/claude")).toThrow(/AGENT_COMMAND/);
    expect(() => resolveAgentCommand(undefined, { searchRoots: [setup.root], path: "" })).toThrow(/npm install/);
  });
});
