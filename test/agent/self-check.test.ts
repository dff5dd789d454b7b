import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PreparedRun } from "../../src/agent/index.ts";
import { checkSandbox, resolveAgentCommand, runSandboxSelfCheck } from "../../src/agent/index.ts";
import type { WrapInput } from "../../src/agent/sandbox.ts";
import { bwrapArgs } from "../../src/agent/sandbox.ts";
import type { AgentTestSetup } from "./setup.ts";
import { agentSetup, PLATFORM_ADMIN_KEY } from "./setup.ts";

const bwrapPath = Bun.which("bwrap");
const bwrapWorks =
  bwrapPath !== null && Bun.spawnSync([bwrapPath, "--ro-bind", "/", "/", "--unshare-pid", "true"]).exitCode === 0;
if (!bwrapWorks)
  console.warn(
    "skipped (the sandbox self-check items): bubblewrap does not work here (not installed, or no user namespaces)",
  );
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
    // A root server runs the probe as an unprivileged uid even without the sandbox: no capabilities, not root.
    if (process.getuid?.() === 0) expect(byName["no capabilities inside"]?.ok).toBe(true);
    if (process.getuid?.() === 0) expect(byName["runs as an unprivileged uid"]?.ok).toBe(true);
    expect(JSON.stringify(items)).not.toContain(PLATFORM_ADMIN_KEY);
  });

  // Finding S1: a run as uid 0 with a writable /proc/sys can set kernel.core_pattern. The check must catch a sandbox
  // that lost the read-only /proc/sys or the uid switch (here: bwrap started as root, without the ro-bind).
  test.skipIf(!bwrapWorks || process.getuid?.() !== 0)(
    "fails on a sandbox run as root without the read-only /proc/sys",
    async () => {
      const config = installWithData("bwrap").config;
      const command = resolveAgentCommand(undefined);
      const sandbox = checkSandbox(config, command);
      const weakened = (run: WrapInput): PreparedRun => {
        const args = bwrapArgs({
          workspace: run.workspace,
          tenantConfigDir: run.tenantConfigDir,
          platformCredentials: null,
          cliFiles: run.command.ownFiles,
        });
        const at = args.findIndex((a, i) => a === "--ro-bind" && args[i + 1] === "/proc/sys");
        if (at >= 0) args.splice(at, 3);
        return {
          argv: [bwrapPath!, ...args, "--", ...run.argv],
          memoryLimited: false,
          limitHit: () => null,
          dispose: () => {},
        };
      };
      const items = await runSandboxSelfCheck({ config }, { sandbox, command, wrap: weakened });
      const byName = Object.fromEntries(items.map((i) => [i.name, i]));
      expect(byName["/proc/sys read-only"]).toMatchObject({ ok: false });
      expect(byName["/proc/sys read-only"]?.detail).toContain("writable");
      expect(byName["runs as an unprivileged uid"]).toMatchObject({ ok: false });
      // The real wrapper passes both.
      const real = Object.fromEntries(
        (await runSandboxSelfCheck({ config }, { sandbox, command })).map((i) => [i.name, i]),
      );
      expect(real["/proc/sys read-only"]).toMatchObject({ ok: true });
      expect(real["runs as an unprivileged uid"]).toMatchObject({ ok: true });
    },
  );

  test.skipIf(process.getuid?.() !== 0)(
    "fails when a folder above TENANTS_DIR keeps tenant uids out (every run would fail)",
    async () => {
      const setup = installWithData("none");
      chmodSync(setup.root, 0o700);
      const items = await runSandboxSelfCheck({ config: setup.config });
      const item = items.find((i) => i.name === "tenant uids reach their folders");
      expect(item).toMatchObject({ ok: false });
      expect(item?.detail).toContain(setup.root);
      chmodSync(setup.root, 0o711);
      const again = await runSandboxSelfCheck({ config: setup.config });
      expect(again.find((i) => i.name === "tenant uids reach their folders")).toMatchObject({ ok: true });
    },
  );
});
