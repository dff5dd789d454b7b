// Attack (S12): any local user reads every process's argv (`ps`, /proc/<pid>/cmdline). A run's prompt (the
// customer's words) and its MCP Bearer token must not be there — in no process of the run's group, sandboxed or not.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createAgentRunner, resolveAgentCommand } from "../../src/agent/index.ts";
import type { SpawnFunction, SpawnSpec } from "../../src/agent/runner.ts";
import { spawnProcessGroup } from "../../src/agent/runner.ts";
import { checkSandbox } from "../../src/agent/sandbox.ts";
import { agentSetup, liveProcessesInGroup, STAND_IN } from "./setup.ts";

const PROMPT = "my card number is 4111-1111-1111-1111, secret-prompt-marker";
const TOKEN = "mcp-run-token-9f8e7d6c5b4a";
const hasBwrap = Bun.which("bwrap") !== null;
if (!hasBwrap) console.warn("SKIPPED the bwrap case of the argv test: bwrap is not installed");

describe.each([
  ["none", true],
  ["bwrap", hasBwrap],
] as const)("no prompt or token in argv (AGENT_SANDBOX=%s)", (mode, enabled) => {
  const setup = agentSetup({ AGENT_COMMAND: STAND_IN, AGENT_SANDBOX: mode, AGENT_TIMEOUT_MS: "2500" });
  afterAll(() => setup.cleanup());

  test.skipIf(!enabled)(
    "neither the spawn spec nor /proc/<pid>/cmdline of the run's group holds them",
    async () => {
      const specs: SpawnSpec[] = [];
      const pids: number[] = [];
      const spawn: SpawnFunction = (spec) => {
        specs.push(spec);
        const child = spawnProcessGroup(spec);
        pids.push(child.pid);
        return child;
      };
      const command = resolveAgentCommand(STAND_IN);
      const runner = createAgentRunner(
        { config: setup.config, log: setup.log },
        { spawn, command, sandbox: checkSandbox(setup.config, command) },
      );
      const pidFile = join(setup.workspace("tenant-a"), "hang.pid"); // inside the workspace: the sandbox sees it
      const running = runner.run(
        setup.request("tenant-a", PROMPT, {
          mcp: { url: "http://127.0.0.1:1/mcp", token: TOKEN },
          tenantEnv: { STAND_IN_MODE: "hang", STAND_IN_PIDFILE: pidFile },
        }),
      );
      // Wait until the stand-in's own child is up: the whole chain (sh, bwrap, the CLI, its child) exists then.
      for (let i = 0; i < 100 && !existsSync(pidFile); i++) await Bun.sleep(50);
      expect(existsSync(pidFile)).toBe(true);
      const group = pids[0] ?? 0;
      const cmdlines = liveProcessesInGroup(group).map((pid) => readCmdline(pid));
      // bwrap starts the sandboxed processes in a new session: find them by their parent chain too.
      for (const pid of descendantsOf(group)) cmdlines.push(readCmdline(pid));
      expect(cmdlines.length).toBeGreaterThan(1);
      const everything = [...cmdlines, ...specs.map((s) => s.argv.join("\0"))].join("\n");
      expect(everything).not.toContain("secret-prompt-marker");
      expect(everything).not.toContain(TOKEN);
      expect(specs[0]?.stdin).toBe(PROMPT);
      const result = await running;
      expect(result.kind).toBe("timeout");
    },
    20_000,
  );

  test.skipIf(!enabled)(
    "the MCP config reaches the CLI as a file only its run can read, removed afterwards",
    async () => {
      const runner = createAgentRunner(
        { config: setup.config, log: setup.log },
        { command: resolveAgentCommand(STAND_IN) },
      );
      const result = await runner.run(
        setup.request("tenant-b", PROMPT, {
          mcp: { url: "http://127.0.0.1:1/mcp", token: TOKEN },
          tenantEnv: { STAND_IN_MODE: "mcp_file" },
        }),
      );
      if (result.kind !== "ok") throw new Error(JSON.stringify(result));
      const [path, modeBits, content] = result.text.split("\n---\n");
      expect(path?.startsWith(`${join(setup.config.CLAUDE_CONFIG_DIR, "tenants", "tenant-b")}/`)).toBe(true);
      expect(modeBits).toBe("600");
      expect(JSON.parse(content ?? "")).toEqual({
        mcpServers: {
          proxystaff: { type: "http", url: "http://127.0.0.1:1/mcp", headers: { Authorization: `Bearer ${TOKEN}` } },
        },
      });
      expect(existsSync(path ?? "")).toBe(false);
      expect(
        readdirSync(join(setup.config.CLAUDE_CONFIG_DIR, "tenants", "tenant-b")).filter((n) => n.includes("mcp")),
      ).toEqual([]);
      expect(statSync(join(setup.config.CLAUDE_CONFIG_DIR, "tenants", "tenant-b")).mode & 0o777).toBe(0o700);
    },
  );
});

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

/** Every live descendant of `root` (by PPid), whatever its session or group. */
function descendantsOf(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1];
      if (ppid) parentOf.set(Number(entry), Number(ppid));
    } catch {
      // Exited while we looked.
    }
  }
  const found: number[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const next = [...parentOf].filter(([, ppid]) => frontier.includes(ppid)).map(([pid]) => pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}
