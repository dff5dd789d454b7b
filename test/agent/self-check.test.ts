import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runSandboxSelfCheck } from "../../src/agent/index.ts";
import { agentSetup, PLATFORM_ADMIN_KEY } from "./setup.ts";
import type { AgentTestSetup } from "./setup.ts";

const bwrapPath = Bun.which("bwrap");
const bwrapWorks = bwrapPath !== null && Bun.spawnSync([bwrapPath, "--ro-bind", "/", "/", "--unshare-pid", "true"]).exitCode === 0;
if (!bwrapWorks) console.warn("SKIPPED sandboxed self-check: bubblewrap is not installed or does not work here");

const setups: AgentTestSetup[] = [];
function installWithData(sandbox: string): AgentTestSetup {
  const setup = agentSetup({ AGENT_SANDBOX: sandbox }, undefined, "/var/tmp");
  setups.push(setup);
  setup.workspace("tenant-b");
  mkdirSync(setup.config.DATA_DIR, { recursive: true });
  writeFileSync(join(setup.config.DATA_DIR, "proxystaff.db"), "db");
  writeFileSync(join(setup.config.DATA_DIR, "admin-api-key"), PLATFORM_ADMIN_KEY);
  return setup;
}
afterAll(() => setups.forEach((s) => s.cleanup()));

describe("runSandboxSelfCheck", () => {
  test.skipIf(!bwrapWorks)("with bubblewrap every isolation item passes", async () => {
    const items = await runSandboxSelfCheck({ config: installWithData("bwrap").config });
    const failed = items.filter((i) => !i.ok && i.name !== "process and memory caps");
    expect(failed).toEqual([]);
    expect(items.map((i) => i.name)).toContain("database and keys hidden");
  });

  test("with AGENT_SANDBOX=none the checklist says plainly what a run can see", async () => {
    const items = await runSandboxSelfCheck({ config: installWithData("none").config });
    const byName = Object.fromEntries(items.map((i) => [i.name, i]));
    expect(byName["sandbox (bubblewrap) works"]?.ok).toBe(false);
    expect(byName["other tenants' folders hidden"]?.ok).toBe(false);
    expect(byName["database and keys hidden"]?.ok).toBe(false);
    expect(byName["platform secrets absent"]?.ok).toBe(true);
    expect(byName["own workspace writable"]?.ok).toBe(true);
    if (process.getuid?.() === 0) expect(byName["no capabilities inside"]?.ok).toBe(false);
    expect(JSON.stringify(items)).not.toContain(PLATFORM_ADMIN_KEY);
  });
});
