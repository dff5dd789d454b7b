// Per-run limits with the REAL Claude CLI: memory (AGENT_MEMORY_MB) and processes (pids cgroup, since the kernel
// does not enforce RLIMIT_NPROC for root).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createAgentRunner, resolveAgentCommand } from "../../src/agent/index.ts";
import { detectLimitMethod } from "../../src/agent/limits.ts";
import { checkSandbox, sandboxWrapper } from "../../src/agent/sandbox.ts";
import { startFakeAnthropic } from "../fakes/anthropic.ts";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { agentSetup, REAL_CLI, TEST_UID } from "./setup.ts";

const hasCli = existsSync(REAL_CLI);
const canSetLimits = detectLimitMethod() !== null;
if (!hasCli || !canSetLimits) console.warn(`SKIPPED memory-limit test: ${hasCli ? "neither /bin/sh's ulimit nor prlimit (util-linux) can set the limits" : "the Claude CLI is missing"}`);

describe.each(["none", "auto"] as const)("limits reach the agent's process (AGENT_SANDBOX=%s)", (mode) => {
  test.skipIf(!canSetLimits)("RLIMIT_NPROC and RLIMIT_AS are set, soft and hard, as the run sees them", async () => {
    const setup = agentSetup({ AGENT_SANDBOX: mode, AGENT_MEMORY_MB: "3000" });
    try {
      const command = resolveAgentCommand(undefined);
      const status = checkSandbox(setup.config, command);
      const workspace = setup.workspace("tenant-l");
      const configDir = join(setup.root, "config-l");
      mkdirSync(configDir, { recursive: true });
      const run = sandboxWrapper(status)({ argv: ["/bin/cat", "/proc/self/limits"], workspace, tenantConfigDir: configDir, platformCredentials: null, command, uid: TEST_UID });
      const child = Bun.spawn(run.argv, { cwd: workspace, env: { PATH: "/usr/bin:/bin" }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const [out, err] = [await new Response(child.stdout).text(), await new Response(child.stderr).text()];
      expect({ exit: await child.exited, err }).toEqual({ exit: 0, err: "" });
      run.dispose();
      expect(out).toMatch(/^Max processes\s+1024\s+1024\s/m);
      expect(out).toMatch(new RegExp(`^Max address space\\s+${3000 * 1024 * 1024}\\s+${3000 * 1024 * 1024}\\s`, "m"));
      expect(run.memoryLimited).toBe(true);
    } finally {
      setup.cleanup();
    }
  });
});

describe("per-run limits", () => {
  let fake: FakeAnthropic;
  beforeAll(() => {
    fake = startFakeAnthropic();
  });
  afterAll(async () => {
    await fake.stop();
  });

  test.skipIf(!hasCli || !canSetLimits)("a run over AGENT_MEMORY_MB is classified limit_exceeded", async () => {
    const setup = agentSetup({ AGENT_MEMORY_MB: "256" }, fake.url);
    try {
      const runner = createAgentRunner({ config: setup.config, log: setup.log });
      const result = await runner.run(setup.request("tenant-m", "hello"));
      expect(result.kind).toBe("limit_exceeded");
      if (result.kind === "limit_exceeded") expect(result.error).toContain("memory limit");
    } finally {
      setup.cleanup();
    }
  });

  test("a fork storm stops at the process cap and leaves nothing running", { timeout: 20_000 }, async () => {
    const hasBwrap = Bun.which("bwrap") !== null;
    const setup = agentSetup({ AGENT_SANDBOX: hasBwrap ? "auto" : "none" }, fake.url, "/var/tmp");
    try {
      const command = resolveAgentCommand(undefined);
      const status = checkSandbox(setup.config, command);
      if (!status.cgroups && process.getuid?.() === 0) {
        console.warn("SKIPPED process-cap test: no usable cgroup here and RLIMIT_NPROC does not bind root");
        return;
      }
      const runner = createAgentRunner({ config: setup.config, log: setup.log }, { sandbox: { ...status, limits: { ...status.limits, maxProcesses: 96 } } });
      fake.enqueue({ type: "tool_use", name: "Bash", input: { command: "for i in $(seq 150); do sleep 30 & done 2>&1 | tail -1; echo started" } });
      const result = await runner.run(setup.request("tenant-p", "fork a lot"));
      // Either the CLI survives and reports the failed forks, or it dies of them: both are contained.
      if (result.kind === "ok") expect(result.text).toMatch(/Resource temporarily unavailable|retry: No child processes/);
      // As the tenant's uid, RLIMIT_NPROC binds (it did not for root) and the kernel checks it before the pids cgroup,
      // so the cgroup may not record the hit: the CLI then aborts on a failed fork (a crash), contained all the same.
      else expect(["limit_exceeded", "crash"]).toContain(result.kind);
      // The run's cgroup goes away once its killed tasks are reaped (retried in the background).
      const leftovers = () => (status.cgroups?.bases ?? []).flatMap((b) => readdirSync(b.dir).filter((d) => d.startsWith("run-")));
      for (let i = 0; i < 40 && leftovers().length > 0; i++) await Bun.sleep(100);
      expect(leftovers()).toEqual([]);
    } finally {
      setup.cleanup();
    }
  });
});
