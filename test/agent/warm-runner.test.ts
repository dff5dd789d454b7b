// Issue 14: warm agents — the runner with a warm pool against the REAL Claude CLI and the loopback fake Anthropic API.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunAccess, WarmPool } from "../../src/agent/index.ts";
import { createAgentRunner, createWarmPool, runWithSessionRetry } from "../../src/agent/index.ts";
import type { AgentResult, ProcessAgentRunner, SpawnSpec } from "../../src/agent/runner.ts";
import { spawnProcessGroup } from "../../src/agent/runner.ts";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { CREDIT_TOO_LOW_ERROR, lastPrompt, startFakeAnthropic, userTexts } from "../fakes/anthropic.ts";
import { FakeClock } from "../helpers/index.ts";
import type { AgentTestSetup } from "./setup.ts";
import { agentSetup, isRunning, liveProcessesInGroup, REAL_CLI } from "./setup.ts";

const hasCli = existsSync(REAL_CLI);
if (!hasCli) console.warn(`skipping warm agent tests: ${REAL_CLI} is missing (run npm install)`);

function ok(result: AgentResult): Extract<AgentResult, { kind: "ok" }> {
  if (result.kind !== "ok") throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result;
}

describe.skipIf(!hasCli)("warm agents with the real Claude CLI", () => {
  let fake: FakeAnthropic;
  let setup: AgentTestSetup;
  let clock: FakeClock;
  let pool: WarmPool;
  let runner: ProcessAgentRunner;
  let spawns: SpawnSpec[];

  function build(env: Record<string, string> = {}): void {
    setup = agentSetup({ AGENT_TIMEOUT_MS: "60000", ...env }, fake.url);
    clock = new FakeClock(1_000_000);
    pool = createWarmPool({ config: setup.config, log: setup.log, clock });
    spawns = [];
    started = [];
    runner = createAgentRunner(
      { config: setup.config, log: setup.log },
      {
        warm: pool,
        spawn: (spec) => {
          spawns.push(spec);
          return spawnProcessGroup(spec);
        },
      },
    );
  }

  /** The pids (= process groups) of the warm processes started, for the orphan checks. */
  let started: number[] = [];
  function warmLines(): string[] {
    return setup.logLines.filter((l) => l.includes("agent run finished") || l.includes("agent run failed"));
  }

  beforeAll(() => {
    fake = startFakeAnthropic();
  });
  afterAll(async () => {
    await fake.stop();
  });
  beforeEach(() => {
    fake.reset();
    fake.setHandler(undefined);
    build();
  });
  afterEach(async () => {
    await pool.stop();
    setup.cleanup();
  });

  /** Runs a turn the way the turn runner does: session and turn mark carried from the previous ok turn. */
  async function turn(
    tenantId: string,
    prompt: string,
    previous: { sessionId: string | null; runId: string | null },
    extra: Parameters<AgentTestSetup["request"]>[2] = {},
  ): Promise<{ result: AgentResult; runId: string }> {
    const runId = crypto.randomUUID();
    const result = await runner.run(
      setup.request(tenantId, prompt, { sessionId: previous.sessionId, turnMark: previous.runId, runId, ...extra }),
    );
    const pid = pool.stats().processes > 0 ? warmPid(tenantId) : null;
    if (pid !== null && !started.includes(pid)) started.push(pid);
    return { result, runId };
  }
  function warmPid(tenantId: string): number | null {
    const line = setup.logLines.filter((l) => l.includes("warm agent started") && l.includes(tenantId)).at(-1);
    return line ? (JSON.parse(line) as { pid: number }).pid : null;
  }

  test("three messages in a row: one CLI process serves all three, the third request carries the whole history", async () => {
    fake.enqueue({ type: "text", text: "one" }, { type: "text", text: "two" }, { type: "text", text: "three" });
    const a = await turn("tenant-a", "My name is Ada", { sessionId: null, runId: null });
    const first = ok(a.result);
    const b = await turn("tenant-a", "I live in Denver", { sessionId: first.sessionId, runId: a.runId });
    const c = await turn("tenant-a", "Who am I?", { sessionId: ok(b.result).sessionId, runId: b.runId });
    expect(ok(c.result).text).toBe("three");
    expect(ok(c.result).sessionId).toBe(first.sessionId);
    expect(spawns).toHaveLength(1);
    // stream-json both ways; the prompt never in argv.
    expect(spawns[0]!.argv.join(" ")).toContain("--input-format stream-json --output-format stream-json --verbose");
    expect(spawns[0]!.argv.join(" ")).not.toContain("My name is Ada");
    expect(spawns[0]!.interactive).toBe(true);
    expect(userTexts(fake.messageRequests().at(-1)?.body)).toEqual(["My name is Ada", "I live in Denver", "Who am I?"]);
    expect(fake.messageRequests().at(-1)?.raw).toContain("two");
    expect(warmLines().map((l) => (JSON.parse(l) as { warm: boolean }).warm)).toEqual([false, true, true]);
  });

  test.skipIf(process.getuid?.() !== 0)(
    "ownership: a warm follow-up walks no tree (its folders are the uid's already); a cold start still gives everything to the uid",
    async () => {
      fake.enqueue({ type: "text", text: "one" }, { type: "text", text: "two" }, { type: "text", text: "three" });
      const a = await turn("tenant-own", "hi", { sessionId: null, runId: null });
      const workspace = setup.workspace("tenant-own");
      const uid = setup.request("tenant-own", "x").uid;
      expect(statSync(workspace).uid).toBe(uid);
      // Written past src/tenants/workspace-fs.ts (which would give it to the folder's owner): stays root's on a warm turn.
      writeFileSync(join(workspace, "by-root.txt"), "x");
      const b = await turn("tenant-own", "again", { sessionId: ok(a.result).sessionId, runId: a.runId });
      expect(warmLines().map((l) => (JSON.parse(l) as { warm: boolean }).warm)).toEqual([false, true]);
      expect(statSync(join(workspace, "by-root.txt")).uid).toBe(0);
      pool.retireTenant("tenant-own", "tenant_stopped");
      await turn("tenant-own", "cold again", { sessionId: ok(b.result).sessionId, runId: b.runId });
      expect(statSync(join(workspace, "by-root.txt")).uid).toBe(uid);
    },
  );

  test("outcomes are classified as for a cold run: API error → crash, credit → credit_too_low, unknown session → session_not_found then fresh", async () => {
    // The CLI retries the 400 itself: every attempt fails.
    fake.setHandler(() => ({
      type: "error",
      status: 400,
      body: { type: "error", error: { type: "invalid_request_error", message: "prompt is malformed" } },
    }));
    const crash = await turn("tenant-a", "x", { sessionId: null, runId: null });
    expect(crash.result.kind).toBe("crash");
    fake.setHandler(undefined);
    fake.enqueue(CREDIT_TOO_LOW_ERROR);
    const credit = await turn("tenant-b", "x", { sessionId: null, runId: null });
    expect(credit.result.kind).toBe("credit_too_low");
    expect(pool.stats().processes).toBe(0); // a failed turn retires its process
    fake.enqueue({ type: "text", text: "fresh start" });
    const retried = await runWithSessionRetry(
      runner,
      setup.request("tenant-c", "hello", { sessionId: "00000000-0000-4000-8000-000000000000" }),
    );
    expect(retried).toMatchObject({ kind: "ok", text: "fresh start", sessionReset: true });
  });

  test("two tenants never share a process", async () => {
    fake.enqueue({ type: "text", text: "for a" }, { type: "text", text: "for b" });
    await turn("tenant-a", "hello from a", { sessionId: null, runId: null });
    await turn("tenant-b", "hello from b", { sessionId: null, runId: null });
    expect(spawns).toHaveLength(2);
    expect(spawns[0]!.cwd).toBe(setup.workspace("tenant-a"));
    expect(spawns[1]!.cwd).toBe(setup.workspace("tenant-b"));
    expect(warmPid("tenant-a")).not.toBe(warmPid("tenant-b"));
    expect(pool.stats().processes).toBe(2);
    // b's request holds nothing of a's conversation.
    expect(userTexts(fake.messageRequests().at(-1)?.body)).toEqual(["hello from b"]);
  });

  describe("each retirement cause: the next turn starts cold with --resume and still has the history", () => {
    async function afterRetirement(
      retire: (prev: {
        sessionId: string;
        runId: string;
      }) => Promise<Partial<Parameters<AgentTestSetup["request"]>[2]>>,
    ): Promise<AgentResult> {
      fake.enqueue({ type: "text", text: "first" }, { type: "text", text: "second" });
      const a = await turn("tenant-a", "remember 42", { sessionId: null, runId: null });
      const prev = { sessionId: ok(a.result).sessionId, runId: a.runId };
      const extra = await retire(prev);
      const b = await turn("tenant-a", "what number?", prev, extra);
      expect(spawns).toHaveLength(2);
      expect(spawns[1]!.argv).toContain("--resume");
      expect(spawns[1]!.argv).toContain(prev.sessionId);
      expect(userTexts(fake.messageRequests().at(-1)?.body)).toEqual(["remember 42", "what number?"]);
      expect(warmLines().map((l) => (JSON.parse(l) as { warm: boolean }).warm)).toEqual([false, false]);
      return b.result;
    }

    test("explicit retire (/reset, admin reset, tenant paused or archived)", async () => {
      const result = await afterRetirement(async () => {
        runner.retire?.("tenant-a", "tenant_stopped");
        return {};
      });
      expect(ok(result).text).toBe("second");
    });

    test("the process exited (SIGKILL between turns): next turn cold, answered once", async () => {
      const result = await afterRetirement(async () => {
        const pid = warmPid("tenant-a")!;
        process.kill(-pid, "SIGKILL");
        while (isRunning(pid)) await Bun.sleep(20);
        return {};
      });
      expect(ok(result).text).toBe("second");
      expect(fake.messageRequests()).toHaveLength(2);
    });

    test("credentials changed: the next turn sees the new value", async () => {
      fake.enqueue(
        { type: "text", text: "first" },
        { type: "tool_use", name: "Bash", input: { command: "echo key=$SHOP_KEY" } },
      );
      const a = await turn(
        "tenant-a",
        "remember 42",
        { sessionId: null, runId: null },
        { tenantEnv: { SHOP_KEY: "old" } },
      );
      const prev = { sessionId: ok(a.result).sessionId, runId: a.runId };
      const b = await turn("tenant-a", "show the key", prev, { tenantEnv: { SHOP_KEY: "new" } });
      expect(ok(b.result).text).toContain("key=new");
      expect(spawns).toHaveLength(2);
      expect(userTexts(fake.messageRequests().at(-1)?.body)).toContain("remember 42");
      expect(setup.logLines.some((l) => l.includes('"reason":"fingerprint_changed"'))).toBe(true);
    });

    test("CLAUDE.md changed", async () => {
      const result = await afterRetirement(async () => {
        writeFileSync(join(setup.workspace("tenant-a"), "CLAUDE.md"), "# New instructions\n");
        return {};
      });
      expect(ok(result).text).toBe("second");
      expect(setup.logLines.some((l) => l.includes('"reason":"fingerprint_changed"'))).toBe(true);
    });

    test("the session advanced elsewhere (another server's turn changed the turn mark)", async () => {
      const result = await afterRetirement(async () => ({ turnMark: "another-servers-run" }));
      expect(ok(result).text).toBe("second");
      expect(setup.logLines.some((l) => l.includes('"reason":"session_changed"'))).toBe(true);
    });

    test("idle timeout (fake clock)", async () => {
      const result = await afterRetirement(async () => {
        clock.advance(setup.config.AGENT_WARM_IDLE_MS);
        pool.sweep();
        return {};
      });
      expect(ok(result).text).toBe("second");
      expect(setup.logLines.some((l) => l.includes('"reason":"idle"'))).toBe(true);
    });
  });

  test("a reset (stored session forgotten): the next turn is a fresh process and a fresh conversation", async () => {
    fake.enqueue({ type: "text", text: "first" }, { type: "text", text: "second" });
    const a = await turn("tenant-a", "remember 42", { sessionId: null, runId: null });
    ok(a.result);
    await turn("tenant-a", "hello again", { sessionId: null, runId: null });
    expect(spawns).toHaveLength(2);
    expect(spawns[1]!.argv).not.toContain("--resume");
    expect(userTexts(fake.messageRequests().at(-1)?.body)).toEqual(["hello again"]);
  });

  test("the idle timeout spares a process used recently", async () => {
    fake.enqueue({ type: "text", text: "first" });
    await turn("tenant-a", "hi", { sessionId: null, runId: null });
    clock.advance(setup.config.AGENT_WARM_IDLE_MS - 1);
    pool.sweep();
    expect(pool.stats().processes).toBe(1);
  });

  test("killed mid-turn: a failed run (nothing answered); the next turn starts cold with the history", async () => {
    fake.enqueue({ type: "text", text: "first" }, { type: "hang" }, { type: "text", text: "after the crash" });
    const a = await turn("tenant-a", "remember 42", { sessionId: null, runId: null });
    const prev = { sessionId: ok(a.result).sessionId, runId: a.runId };
    const pid = warmPid("tenant-a")!;
    const pending = turn("tenant-a", "this one dies", prev);
    while (fake.messageRequests().length < 2) await Bun.sleep(20);
    process.kill(-pid, "SIGKILL");
    const b = await pending;
    // Classified as a cold run's would be: a SIGKILL under the memory cap (AGENT_MEMORY_MB) reads as hitting it.
    expect(b.result.kind).toBe("limit_exceeded");
    expect(pool.stats().processes).toBe(0);
    const c = await turn("tenant-a", "what number?", prev);
    expect(ok(c.result).text).toBe("after the crash");
    expect(spawns).toHaveLength(2);
    expect(userTexts(fake.messageRequests().at(-1)?.body)).toContain("remember 42");
  });

  test("a turn past AGENT_TIMEOUT_MS: timeout, its process group killed, the process retired", async () => {
    await pool.stop();
    setup.cleanup();
    build({ AGENT_TIMEOUT_MS: "3000" });
    fake.enqueue({ type: "text", text: "first" }, { type: "hang" });
    const a = await turn("tenant-a", "hi", { sessionId: null, runId: null });
    const pid = warmPid("tenant-a")!;
    const b = await turn("tenant-a", "hang", { sessionId: ok(a.result).sessionId, runId: a.runId });
    expect(b.result.kind).toBe("timeout");
    expect(liveProcessesInGroup(pid)).toEqual([]);
    expect(pool.stats().processes).toBe(0);
  });

  test("pool bound: at most AGENT_WARM_MAX processes, least recently used retired first", async () => {
    await pool.stop();
    setup.cleanup();
    build({ AGENT_WARM_MAX: "2" });
    fake.enqueue({ type: "text", text: "a" }, { type: "text", text: "b" }, { type: "text", text: "a2" });
    fake.enqueue({ type: "text", text: "c" }, { type: "text", text: "a3" });
    const a = await turn("tenant-a", "a1", { sessionId: null, runId: null });
    await turn("tenant-b", "b1", { sessionId: null, runId: null });
    const a2 = await turn("tenant-a", "a2", { sessionId: ok(a.result).sessionId, runId: a.runId }); // a is now the most recent
    await turn("tenant-c", "c1", { sessionId: null, runId: null }); // b (least recently used) goes
    expect(pool.stats().processes).toBe(2);
    expect(setup.logLines.some((l) => l.includes('"reason":"evicted"') && l.includes("tenant-b"))).toBe(true);
    await turn("tenant-a", "a3", { sessionId: ok(a2.result).sessionId, runId: a2.runId });
    expect(spawns).toHaveLength(3); // a stayed warm throughout
  });

  test("tokens: issued once per process, renewed for each turn's run id, revoked when it is retired", async () => {
    const calls: string[] = [];
    const access: RunAccess = {
      issue(runId) {
        calls.push(`issue ${runId}`);
        return {
          renew: (id) => calls.push(`renew ${id}`),
          revoke: () => calls.push("revoke"),
        };
      },
    };
    fake.enqueue({ type: "text", text: "one" }, { type: "text", text: "two" });
    const a = await turn("tenant-a", "one", { sessionId: null, runId: null }, { access });
    const b = await turn("tenant-a", "two", { sessionId: ok(a.result).sessionId, runId: a.runId }, { access });
    expect(calls).toEqual([`issue ${a.runId}`, `renew ${b.runId}`]);
    await pool.stop();
    expect(calls).toEqual([`issue ${a.runId}`, `renew ${b.runId}`, "revoke"]);
  });

  test("stop with a warm pool: every process ends, nothing left behind (ps)", async () => {
    fake.enqueue({ type: "text", text: "a" }, { type: "text", text: "b" });
    await turn("tenant-a", "a", { sessionId: null, runId: null });
    await turn("tenant-b", "b", { sessionId: null, runId: null });
    const pids = [...started];
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(liveProcessesInGroup(pid).length).toBeGreaterThan(0);
    await pool.stop();
    for (const pid of pids) expect(liveProcessesInGroup(pid)).toEqual([]);
    const ps = Bun.spawnSync(["ps", "-eo", "pid,pgid,args"]).stdout.toString();
    for (const pid of pids) expect(ps.split("\n").filter((l) => l.trim().split(/\s+/)[1] === String(pid))).toEqual([]);
    // A turn after stop runs cold (no new warm process joins a stopped pool).
    fake.enqueue({ type: "text", text: "cold" });
    const after = await turn("tenant-a", "after stop", { sessionId: null, runId: null });
    expect(ok(after.result).text).toBe("cold");
    expect(spawns.at(-1)!.interactive).toBeUndefined();
    expect(lastPrompt(fake.messageRequests().at(-1)?.body)).toBe("after stop");
  });
});
