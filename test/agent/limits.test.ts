// Per-run limits with the REAL Claude CLI: memory (AGENT_MEMORY_MB) and processes (pids cgroup, since the kernel
// does not enforce RLIMIT_NPROC for root).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createAgentRunner, resolveAgentCommand } from "../../src/agent/index.ts";
import { detectLimitMethod, resolveLimits } from "../../src/agent/limits.ts";
import { checkSandbox, sandboxWrapper } from "../../src/agent/sandbox.ts";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { startFakeAnthropic } from "../fakes/anthropic.ts";
import { agentSetup, REAL_CLI, TEST_UID } from "./setup.ts";

const hasCli = existsSync(REAL_CLI);
const canSetLimits = detectLimitMethod() !== null;
const hasBwrap = Bun.which("bwrap") !== null;
if (!hasBwrap) console.warn("SKIPPED /tmp size test: bwrap is not installed (without the sandbox /tmp is the host's)");
if (!hasCli || !canSetLimits)
  console.warn(
    `SKIPPED memory-limit test: ${hasCli ? "neither /bin/sh's ulimit nor prlimit (util-linux) can set the limits" : "the Claude CLI is missing"}`,
  );

describe.each(["none", "auto"] as const)("limits reach the agent's process (AGENT_SANDBOX=%s)", (mode) => {
  test.skipIf(!canSetLimits)(
    "RLIMIT_NPROC is set; the memory cap is the run's cgroup, RLIMIT_AS only without one",
    async () => {
      const setup = agentSetup({ AGENT_SANDBOX: mode, AGENT_MEMORY_MB: "3000" });
      try {
        const command = resolveAgentCommand(undefined);
        const status = checkSandbox(setup.config, command);
        const workspace = setup.workspace("tenant-l");
        const configDir = join(setup.root, "config-l");
        mkdirSync(configDir, { recursive: true });
        const memoryGroup = memoryLimitFile(status);
        const run = sandboxWrapper(status)({
          argv: ["/bin/cat", "/proc/self/limits"],
          workspace,
          tenantConfigDir: configDir,
          platformCredentials: null,
          command,
          uid: TEST_UID,
        });
        const child = Bun.spawn(run.argv, {
          cwd: workspace,
          env: { PATH: "/usr/bin:/bin" },
          stdin: "ignore",
          stdout: "pipe",
          stderr: "pipe",
        });
        const [out, err] = [await new Response(child.stdout).text(), await new Response(child.stderr).text()];
        expect({ exit: await child.exited, err }).toEqual({ exit: 0, err: "" });
        const groupLimit = memoryGroup ? readFileSync(memoryGroup(run), "utf8").trim() : null;
        run.dispose();
        expect(out).toMatch(/^Max processes\s+1024\s+1024\s/m);
        if (groupLimit !== null) {
          expect(groupLimit).toBe(String(3000 * 1024 * 1024));
          expect(out).toMatch(/^Max address space\s+unlimited\s+unlimited\s/m);
        } else {
          expect(out).toMatch(
            new RegExp(`^Max address space\\s+${3000 * 1024 * 1024}\\s+${3000 * 1024 * 1024}\\s`, "m"),
          );
        }
        expect(run.memoryLimited).toBe(true);
      } finally {
        setup.cleanup();
      }
    },
  );
});

describe("limits by default", () => {
  test("a run gets a 1024 MiB memory cap unless AGENT_MEMORY_MB says otherwise; 0 or off disables it", () => {
    expect(resolveLimits(agentSetupConfig({})).memoryMb).toBe(1024);
    expect(resolveLimits(agentSetupConfig({ AGENT_MEMORY_MB: "2048" })).memoryMb).toBe(2048);
    expect(resolveLimits(agentSetupConfig({ AGENT_MEMORY_MB: "0" })).memoryMb).toBeNull();
    expect(resolveLimits(agentSetupConfig({ AGENT_MEMORY_MB: "off" })).memoryMb).toBeNull();
  });

  test.skipIf(!hasBwrap)(
    "a run that writes 300 MiB to /tmp runs out of space (a 256 MiB tmpfs by default)",
    async () => {
      const setup = agentSetup({ AGENT_SANDBOX: "bwrap" });
      try {
        const command = resolveAgentCommand(undefined);
        const status = checkSandbox(setup.config, command);
        const workspace = setup.workspace("tenant-t");
        const configDir = join(setup.root, "config-t");
        mkdirSync(configDir, { recursive: true });
        const script = "head -c 314572800 /dev/zero > /tmp/big; echo rc=$?; wc -c < /tmp/big";
        const run = sandboxWrapper(status)({
          argv: ["/bin/sh", "-c", script],
          workspace,
          tenantConfigDir: configDir,
          platformCredentials: null,
          command,
          uid: TEST_UID,
        });
        const child = Bun.spawn(run.argv, {
          cwd: workspace,
          env: { PATH: "/usr/bin:/bin" },
          stdin: "ignore",
          stdout: "pipe",
          stderr: "pipe",
        });
        const [out, err] = [await new Response(child.stdout).text(), await new Response(child.stderr).text()];
        await child.exited;
        run.dispose();
        expect(err).toContain("No space left on device");
        const [rc, size] = out.trim().split("\n");
        expect(rc).not.toBe("rc=0");
        expect(Number(size)).toBeLessThanOrEqual(256 * 1024 * 1024);
      } finally {
        setup.cleanup();
      }
    },
    30_000,
  );
});

/** The config a test setup would load (only the limits are looked at). */
function agentSetupConfig(env: Record<string, string>) {
  const setup = agentSetup(env);
  setup.cleanup();
  return setup.config;
}

/** Where a run's memory limit is written in its cgroup (v1 or v2), or null without a memory cgroup. */
/**
 * The memory limit file of the run wrapped after this call: the one run group of this process that is new then
 * (groups of earlier tests may still be on their way out).
 */
function memoryLimitFile(status: ReturnType<typeof checkSandbox>): ((run: { limitHit(): unknown }) => string) | null {
  const base = status.cgroups?.bases.find((b) => b.controller !== "pids");
  if (!base || !status.cgroups) return null;
  const file = status.cgroups.version === 2 ? "memory.max" : "memory.limit_in_bytes";
  const before = new Set(readdirSync(base.dir));
  return () => {
    const dir = readdirSync(base.dir).find((d) => d.startsWith(`run-${process.pid}-`) && !before.has(d));
    return join(base.dir, dir ?? "missing", file);
  };
}

describe("per-run limits", () => {
  let fake: FakeAnthropic;
  beforeAll(() => {
    fake = startFakeAnthropic();
  });
  afterAll(async () => {
    await fake.stop();
  });

  test.skipIf(!hasCli || !canSetLimits)("a run over AGENT_MEMORY_MB is classified limit_exceeded", async () => {
    const setup = agentSetup({ AGENT_MEMORY_MB: "64" }, fake.url); // below what the CLI itself needs (~190 MB)
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
      const runner = createAgentRunner(
        { config: setup.config, log: setup.log },
        { sandbox: { ...status, limits: { ...status.limits, maxProcesses: 96 } } },
      );
      fake.enqueue({
        type: "tool_use",
        name: "Bash",
        input: { command: "for i in $(seq 150); do sleep 30 & done 2>&1 | tail -1; echo started" },
      });
      const result = await runner.run(setup.request("tenant-p", "fork a lot"));
      // Either the CLI survives and reports the failed forks, or it dies of them: both are contained.
      if (result.kind === "ok")
        expect(result.text).toMatch(/Resource temporarily unavailable|retry: No child processes/);
      // As the tenant's uid, RLIMIT_NPROC binds (it did not for root) and the kernel checks it before the pids cgroup,
      // so the cgroup may not record the hit: the CLI then aborts on a failed fork (a crash), contained all the same.
      else expect(["limit_exceeded", "crash"]).toContain(result.kind);
      // The run's cgroup goes away once its killed tasks are reaped (retried in the background).
      // This process's groups only: other servers (and test runs) on the machine have their own.
      const leftovers = () =>
        (status.cgroups?.bases ?? []).flatMap((b) =>
          readdirSync(b.dir).filter((d) => d.startsWith(`run-${process.pid}-`)),
        );
      for (let i = 0; i < 40 && leftovers().length > 0; i++) await Bun.sleep(100);
      expect(leftovers()).toEqual([]);
    } finally {
      setup.cleanup();
    }
  });
});
