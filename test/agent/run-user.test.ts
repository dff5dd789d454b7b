// Finding S1, the folders around a run: a tenant's uid passes through DATA_DIR, CLAUDE_CONFIG_DIR and TENANTS_DIR
// (0711) to its own folders, and reads nothing else there — not even a database left 0644 by an older version.
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAgentRunner } from "../../src/agent/index.ts";
import { serverFoldersOnTheWay } from "../../src/agent/run-user.ts";
import { agentSetup, STAND_IN, TEST_UID } from "./setup.ts";

const isRoot = process.getuid?.() === 0;
const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("serverFoldersOnTheWay", () => {
  test("default layout: DATA_DIR, its claude/ and claude/tenants/, TENANTS_DIR", () => {
    expect(
      serverFoldersOnTheWay({
        DATA_DIR: "/srv/data",
        CLAUDE_CONFIG_DIR: "/srv/data/claude",
        TENANTS_DIR: "/srv/tenants",
      }),
    ).toEqual(["/srv/data", "/srv/data/claude", "/srv/data/claude/tenants", "/srv/tenants"]);
  });
  test("TENANTS_DIR inside DATA_DIR, CLAUDE_CONFIG_DIR elsewhere: every folder on each way, once", () => {
    expect(
      serverFoldersOnTheWay({ DATA_DIR: "/data", CLAUDE_CONFIG_DIR: "/opt/claude", TENANTS_DIR: "/data/ws/tenants" }),
    ).toEqual(["/data", "/data/ws", "/data/ws/tenants", "/opt/claude", "/opt/claude/tenants"]);
  });
});

test.skipIf(!isRoot)(
  "as root the runner makes the way 0711 and what lies beside it private; a tenant uid cannot list or read it",
  () => {
    const setup = agentSetup({ AGENT_COMMAND: STAND_IN });
    try {
      const { DATA_DIR, CLAUDE_CONFIG_DIR } = setup.config;
      mkdirSync(CLAUDE_CONFIG_DIR, { recursive: true });
      chmodSync(DATA_DIR, 0o755);
      writeFileSync(join(DATA_DIR, "proxystaff.db"), "old database", { mode: 0o644 });
      chmodSync(join(DATA_DIR, "proxystaff.db"), 0o644);
      mkdirSync(join(DATA_DIR, "backups"), { mode: 0o755 });
      writeFileSync(join(CLAUDE_CONFIG_DIR, "settings.json"), "{}", { mode: 0o644 });
      chmodSync(join(CLAUDE_CONFIG_DIR, "settings.json"), 0o644);
      createAgentRunner({ config: setup.config, log: setup.log });
      expect(modeOf(DATA_DIR)).toBe("711");
      expect(modeOf(CLAUDE_CONFIG_DIR)).toBe("711");
      expect(modeOf(join(CLAUDE_CONFIG_DIR, "tenants"))).toBe("711");
      expect(modeOf(setup.config.TENANTS_DIR)).toBe("711");
      expect(modeOf(join(DATA_DIR, "proxystaff.db"))).toBe("600");
      expect(modeOf(join(DATA_DIR, "backups"))).toBe("700");
      expect(modeOf(join(CLAUDE_CONFIG_DIR, "settings.json"))).toBe("600");
      const asTenant = (command: string) =>
        Bun.spawnSync(
          ["setpriv", `--reuid=${TEST_UID}`, `--regid=${TEST_UID}`, "--clear-groups", "--", "/bin/sh", "-c", command],
          { stdout: "pipe", stderr: "pipe" },
        );
      for (const command of [
        `ls ${DATA_DIR}`,
        `cat ${join(DATA_DIR, "proxystaff.db")}`,
        `ls ${CLAUDE_CONFIG_DIR}`,
        `cat ${join(CLAUDE_CONFIG_DIR, "settings.json")}`,
        `ls ${setup.config.TENANTS_DIR}`,
      ]) {
        const result = asTenant(command);
        expect({ command, denied: result.exitCode !== 0, out: result.stdout.toString() }).toEqual({
          command,
          denied: true,
          out: "",
        });
      }
      expect(setup.logLines.join("\n")).toContain("made private");
    } finally {
      setup.cleanup();
    }
  },
);

// A server that is not root cannot switch uid: it must say so loudly, and runs keep its uid.
test.skipIf(!isRoot)("a non-root server keeps its own uid for runs and says so at start", () => {
  const script = [
    `import { decideRunUser, runAsArgs } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "agent", "run-user.ts"))};`,
    "const lines = [];",
    "const user = decideRunUser({ error: (msg, fields) => lines.push({ msg, ...fields }) });",
    "console.log(JSON.stringify({ user, lines, prefix: runAsArgs(user, 200001) }));",
  ].join("\n");
  const result = Bun.spawnSync(
    ["setpriv", `--reuid=${TEST_UID}`, `--regid=${TEST_UID}`, "--clear-groups", "--", process.execPath, "-e", script],
    {
      cwd: "/",
      env: { PATH: "/usr/bin:/bin", HOME: "/tmp", BUN_INSTALL_CACHE_DIR: "/tmp" },
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  expect(result.stderr.toString()).toBe("");
  const seen = JSON.parse(result.stdout.toString()) as {
    user: { kind: string; warning?: string };
    lines: { msg: string; reason: string }[];
    prefix: string[];
  };
  expect(seen.user.kind).toBe("server-uid");
  expect(seen.user.warning).toContain(`runs as uid ${TEST_UID}, not root`);
  expect(seen.lines).toEqual([{ msg: "AGENT RUNS SHARE ONE UID", reason: seen.user.warning! }]);
  expect(seen.prefix).toEqual([]);
});
