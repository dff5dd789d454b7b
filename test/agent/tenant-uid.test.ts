// Finding S1: an agent ran as uid 0 of the host, and /proc/sys was writable inside bubblewrap — it wrote
// kernel.core_pattern (`|/workspace/x` makes the host kernel run a workspace script as root). Each tenant's run now
// goes as its own unprivileged uid, with /proc/sys read-only. The REAL Claude CLI, driven by the fake Anthropic API,
// attacks from tenant A with AGENT_SANDBOX=bwrap and AGENT_SANDBOX=none.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAgentRunner } from "../../src/agent/index.ts";
import type { ProcessAgentRunner } from "../../src/agent/runner.ts";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { startFakeAnthropic, userTexts } from "../fakes/anthropic.ts";
import type { AgentTestSetup } from "./setup.ts";
import { agentSetup, PLATFORM_ADMIN_KEY, REAL_CLI } from "./setup.ts";

const bwrapPath = Bun.which("bwrap");
const bwrapWorks =
  bwrapPath !== null && Bun.spawnSync([bwrapPath, "--ro-bind", "/", "/", "--unshare-pid", "true"]).exitCode === 0;
const isRoot = process.getuid?.() === 0;
const hasSetpriv = existsSync("/usr/bin/setpriv") || existsSync("/bin/setpriv");
const hasCli = existsSync(REAL_CLI);

function skipReason(mode: "bwrap" | "none"): string | null {
  if (!hasCli) return "the Claude CLI is missing (npm install)";
  if (!isRoot) return "the server is not root here, so runs cannot switch uid (setpriv needs root)";
  if (!hasSetpriv) return "util-linux setpriv is missing";
  if (mode === "bwrap" && !bwrapWorks)
    return bwrapPath
      ? "bwrap does not work here (user namespaces?)"
      : "bubblewrap is not installed (apt-get install -y bubblewrap)";
  return null;
}

const B_SECRET = "tenant-b-secret-value-91d2";
const DB_MARKER = "database-file-marker-c0a7";

describe.each(["bwrap", "none"] as const)("agent runs as the tenant's own uid (AGENT_SANDBOX=%s)", (mode) => {
  const reason = skipReason(mode);
  if (reason) console.warn(`SKIPPED tenant uid tests (AGENT_SANDBOX=${mode}): ${reason}`);
  let fake: FakeAnthropic;
  let setup: AgentTestSetup;
  let runner: ProcessAgentRunner;
  let workspaceA: string;
  let workspaceB: string;

  beforeAll(() => {
    if (reason) return;
    fake = startFakeAnthropic();
    // Not under /tmp: the sandbox's /tmp is a private tmpfs.
    setup = agentSetup({ AGENT_SANDBOX: mode }, fake.url, "/var/tmp");
    workspaceA = setup.workspace("tenant-a");
    workspaceB = setup.workspace("tenant-b");
    // B's folder as it was after B's own runs: B's uid, 0700.
    writeFileSync(join(workspaceB, ".env"), `B_SECRET=${B_SECRET}\n`, { mode: 0o600 });
    // DATA_DIR as the server makes it: the database and keys 0600.
    mkdirSync(setup.config.DATA_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(join(setup.config.DATA_DIR, "proxystaff.db"), DB_MARKER, { mode: 0o600 });
    writeFileSync(join(setup.config.DATA_DIR, "admin-api-key"), `${PLATFORM_ADMIN_KEY}\n`, { mode: 0o600 });
    // What the server writes into A's workspace (as root): CLAUDE.md, execution/ copies, timeline/.
    writeFileSync(join(workspaceA, "CLAUDE.md"), "# Acme instructions\n");
    mkdirSync(join(workspaceA, "execution"), { mode: 0o750 });
    writeFileSync(join(workspaceA, "execution", "tool.py"), "print('tool')\n", { mode: 0o755 });
    mkdirSync(join(workspaceA, "timeline"), { mode: 0o750 });
    runner = createAgentRunner({ config: setup.config, log: setup.log });
  });
  afterAll(async () => {
    if (reason) return;
    await fake.stop();
    setup.cleanup();
  });

  test.skipIf(reason !== null)(
    "A's agent is not root, cannot write /proc/sys, cannot read B or DATA_DIR; its own folder works",
    async () => {
      const { TENANTS_DIR, DATA_DIR } = setup.config;
      // B ran before: its folder belongs to B's uid (the runner gives it so).
      const bRun = setup.request("tenant-b", "B's turn");
      fake.enqueue({ type: "text", text: "B done" });
      expect(await runner.run(bRun)).toMatchObject({ kind: "ok" });

      const attack = [
        "id -u",
        // Writes back the value it read: on a vulnerable host this changes nothing, but the write succeeds.
        `v=$(cat /proc/sys/kernel/core_pattern); printf '%s\\n' "$v" > /proc/sys/kernel/core_pattern && echo CORE-PATTERN-WRITTEN`,
        `cat ${join(workspaceB, ".env")}`,
        `ls ${TENANTS_DIR}`,
        `ls ${DATA_DIR}`,
        `cat ${join(DATA_DIR, "proxystaff.db")} ${join(DATA_DIR, "admin-api-key")}`,
        `echo pwned > ${join(workspaceB, "pwned.txt")} && echo B-WRITTEN`,
        "cat CLAUDE.md && echo edited >> execution/tool.py && echo EXECUTION-EDITED && echo mine > timeline/own.md && echo OWN-WRITTEN",
      ]
        .map((cmd, i) => `echo "## step ${i}"; ${cmd} 2>&1`)
        .join("; ");
      fake.enqueue(
        { type: "tool_use", name: "Bash", input: { command: attack }, after: { type: "text", text: "Attack over." } },
        { type: "text", text: "Resumed." },
      );
      const request = setup.request("tenant-a", "try everything");
      const first = await runner.run(request);
      expect(first).toMatchObject({ kind: "ok", text: "Attack over." });
      if (first.kind !== "ok") throw new Error("unreachable");

      const bash = userTexts(fake.messageRequests().at(-1)?.body)[1] ?? "";
      const step = bash.split(/## step \d+\n/).slice(1);
      expect(step[1]).not.toContain("CORE-PATTERN-WRITTEN");
      expect(step[0]?.trim()).toBe(String(request.uid));
      expect(step[1]).toMatch(/Read-only file system|Permission denied/);
      expect(step[2]).toMatch(/Permission denied|No such file or directory/);
      expect(step[3]).not.toContain("tenant-b");
      expect(step[4]).not.toMatch(/proxystaff\.db|admin-api-key/);
      expect(step[5]).toMatch(/Permission denied|No such file or directory/);
      expect(step[6]).not.toContain("B-WRITTEN");
      expect(step[7]).toContain("# Acme instructions");
      expect(step[7]).toContain("EXECUTION-EDITED");
      expect(step[7]).toContain("OWN-WRITTEN");
      for (const secret of [B_SECRET, DB_MARKER, PLATFORM_ADMIN_KEY]) expect(bash).not.toContain(secret);
      expect(existsSync(join(workspaceB, "pwned.txt"))).toBe(false);
      expect(readFileSync(join(workspaceA, "timeline", "own.md"), "utf8")).toBe("mine\n");

      // The workspace and CLI directory belong to A's uid, private; the next run resumes A's session from there.
      const owner = statSync(workspaceA);
      expect({ uid: owner.uid, mode: owner.mode & 0o777 }).toEqual({ uid: request.uid, mode: 0o700 });
      const cliDir = statSync(join(setup.config.CLAUDE_CONFIG_DIR, "tenants", "tenant-a"));
      expect({ uid: cliDir.uid, mode: cliDir.mode & 0o777 }).toEqual({ uid: request.uid, mode: 0o700 });
      // DATA_DIR is passable (0711), never listable; the database stays root's 0600.
      expect(statSync(DATA_DIR).mode & 0o777).toBe(0o711);
      expect(statSync(join(DATA_DIR, "proxystaff.db")).mode & 0o777).toBe(0o600);
      expect(await runner.run({ ...request, prompt: "again", sessionId: first.sessionId })).toMatchObject({
        kind: "ok",
        text: "Resumed.",
      });
    },
  );
});

test.skipIf(!isRoot || !hasCli)("a workspace swapped for a symlink is refused, not chowned through", async () => {
  const setup = agentSetup({ AGENT_SANDBOX: "none", AGENT_TIMEOUT_MS: "5000" });
  try {
    const runner = createAgentRunner({ config: setup.config, log: setup.log });
    const target = join(setup.root, "elsewhere");
    mkdirSync(target);
    chmodSync(target, 0o755);
    const request = setup.request("tenant-s", "hello");
    rmSync(request.workspace, { recursive: true });
    symlinkSync(target, request.workspace);
    const result = await runner.run(request);
    expect(result.kind).toBe("crash");
    expect(statSync(target).uid).toBe(0);
  } finally {
    setup.cleanup();
  }
});
