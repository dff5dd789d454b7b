// Attack (S6): an agent fills its workspace (or its CLI directory) until the shared volume is full — every tenant and
// the database stop. Before each run the tenant's usage is measured against TENANT_DISK_MB, and the volume against a
// free-space floor; over either, the run is refused before any CLI process starts.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAgentRunner, resolveAgentCommand } from "../../src/agent/index.ts";
import { measureDiskUsage } from "../../src/agent/limits.ts";
import type { SpawnFunction } from "../../src/agent/runner.ts";
import { spawnProcessGroup } from "../../src/agent/runner.ts";
import { agentSetup, STAND_IN } from "./setup.ts";

const MiB = 1024 * 1024;

function spyingRunner(
  env: Record<string, string>,
  statfs?: (path: string) => Promise<{ bavail: number; blocks: number; bsize: number }>,
) {
  const setup = agentSetup({ AGENT_COMMAND: STAND_IN, ...env });
  let spawned = 0;
  const spawn: SpawnFunction = (spec) => {
    spawned++;
    return spawnProcessGroup(spec);
  };
  const runner = createAgentRunner(
    { config: setup.config, log: setup.log },
    { spawn, command: resolveAgentCommand(STAND_IN), ...(statfs ? { disk: { statfs } } : {}) },
  );
  return { setup, runner, spawned: () => spawned };
}

describe("disk quota per tenant (TENANT_DISK_MB)", () => {
  const { setup, runner, spawned } = spyingRunner({ TENANT_DISK_MB: "2" });
  afterAll(() => setup.cleanup());

  test("a workspace over the quota: no CLI process is started, the run fails as disk_quota_exceeded", async () => {
    const workspace = setup.workspace("tenant-big");
    writeFileSync(join(workspace, "filler.bin"), Buffer.alloc(3 * MiB, 1));
    const result = await runner.run(setup.request("tenant-big", "hello"));
    expect(result.kind).toBe("disk_quota_exceeded");
    if (result.kind === "disk_quota_exceeded")
      expect(result.error).toMatch(/uses \d+ MiB of its 2 MiB disk quota \(TENANT_DISK_MB/);
    expect(spawned()).toBe(0);
    expect(setup.logLines.some((l) => l.includes("agent run refused") && l.includes("disk_quota_exceeded"))).toBe(true);
  });

  test("its CLI directory (HOME, sessions) counts too", async () => {
    setup.workspace("tenant-home");
    const home = join(setup.config.CLAUDE_CONFIG_DIR, "tenants", "tenant-home");
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, "stash.bin"), Buffer.alloc(3 * MiB, 1));
    expect((await runner.run(setup.request("tenant-home", "hello"))).kind).toBe("disk_quota_exceeded");
  });

  test("links are not followed: a symlink to a big tree outside does not count", async () => {
    const workspace = setup.workspace("tenant-link");
    symlinkSync("/usr", join(workspace, "usr-link"));
    const result = await runner.run(setup.request("tenant-link", "hello", { tenantEnv: { STAND_IN_MODE: "ok" } }));
    expect(result.kind).toBe("ok");
    expect(spawned()).toBe(1);
  });

  test("measurement runs in a child process under a time limit; past it the answer is 'timeout', not a hang", async () => {
    const started = performance.now();
    const usage = await measureDiskUsage([setup.root], {
      timeoutMs: 200,
      command: ["/bin/sh", "-c", "sleep 10", "sh"],
    });
    expect(usage).toEqual({ kind: "timeout" });
    expect(performance.now() - started).toBeLessThan(2000);
    const real = await measureDiskUsage([setup.workspace("tenant-big")]);
    expect(real.kind === "bytes" && real.bytes >= 3 * MiB).toBe(true);
  });
});

describe("free-space floor of the volume holding TENANTS_DIR", () => {
  test("nearly full (below both DISK_FREE_MIN_MB and DISK_FREE_MIN_PERCENT): new runs are refused as disk_space_low", async () => {
    const checked: string[] = [];
    // A 10 GiB volume with 100 MiB free: below 512 MiB and below 5 %.
    const { setup, runner, spawned } = spyingRunner(
      {},
      async (path) => (
        checked.push(path), { bsize: 4096, blocks: (10 * 1024 * MiB) / 4096, bavail: (100 * MiB) / 4096 }
      ),
    );
    try {
      const result = await runner.run(setup.request("tenant-a", "hello"));
      expect(result.kind).toBe("disk_space_low");
      if (result.kind === "disk_space_low") expect(result.error).toContain("100 MiB free");
      expect(spawned()).toBe(0);
      expect(checked).toEqual([setup.config.TENANTS_DIR]);
    } finally {
      setup.cleanup();
    }
  });

  test("a small volume under 512 MiB free but above 5 % still runs", async () => {
    const { setup, runner, spawned } = spyingRunner({}, async () => ({
      bsize: 4096,
      blocks: (1024 * MiB) / 4096,
      bavail: (300 * MiB) / 4096,
    }));
    try {
      expect((await runner.run(setup.request("tenant-a", "hello"))).kind).toBe("ok");
      expect(spawned()).toBe(1);
    } finally {
      setup.cleanup();
    }
  });
});
