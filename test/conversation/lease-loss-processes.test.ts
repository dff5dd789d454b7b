// S9 with two real server processes on one database: the server running a tenant is paused (SIGSTOP) past
// its lease, the other takes the tenant over and runs the message again; when the first resumes (SIGCONT) it
// must kill its own agent run before that run's side effect and send nothing: one reply, one side effect.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Fakes } from "../e2e/stack.ts";
import { StackClient, spawnServer, stackEnv, startFakes } from "../e2e/stack.ts";
import { eventually, freePort } from "../helpers/index.ts";

const SLOW_AGENT = join(import.meta.dir, "..", "agent", "fixtures", "slow-side-effect-agent.sh");

describe("a server paused past its lease", () => {
  let fakes: Fakes;
  let dir: string;
  let a: StackClient;
  let b: StackClient;

  beforeAll(async () => {
    fakes = startFakes();
    dir = mkdtempSync(join(tmpdir(), "proxystaff-lease-"));
    const extra = { AGENT_COMMAND: SLOW_AGENT, AGENT_TIMEOUT_MS: "60000", LEASE_TTL_MS: "1500" };
    const [portA, portB] = [await freePort(), await freePort()];
    a = new StackClient(await spawnServer({ dir, env: stackEnv(fakes, portA, extra) }), fakes);
    b = new StackClient(await spawnServer({ dir, env: stackEnv(fakes, portB, extra) }), fakes);
  });
  afterAll(async () => {
    for (const s of [a, b]) if (s && s.server.proc.exitCode === null) s.server.proc.kill("SIGCONT");
    await a?.server.cleanup();
    await b?.server.cleanup();
    await fakes?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test("the resumed server kills its run and sends nothing: one reply, one side effect", async () => {
    const phone = "+18015550777";
    const tenantId = await a.createTenant({ name: "Lease Co", phone });
    const chat = 800777;
    await a.telegramLink(chat, phone);
    await eventually(
      () => a.telegramReplies(chat).some((t) => t.startsWith("Welcome")) || undefined,
      "the chat linked",
    );
    const runStarted = (s: StackClient) =>
      s.server.logs().some((l) => l.msg === "agent run started" && l.tenantId === tenantId);

    await a.telegramText(chat, "please send the email");
    const first = await eventually(
      () => (runStarted(a) ? a : runStarted(b) ? b : undefined),
      "the first run started",
      15_000,
    );
    const second = first === a ? b : a;
    first.server.proc.kill("SIGSTOP");
    try {
      // The lease (1.5 s) expires; the other server's sweep re-queues the message and runs it.
      await eventually(() => runStarted(second) || undefined, "the other server took the tenant over", 15_000);
    } finally {
      first.server.proc.kill("SIGCONT");
    }
    // The second run started after the first, so once it answered the first would have finished too.
    await eventually(
      () => a.telegramReplies(chat).includes("side effect done") || undefined,
      "the taken-over run's reply",
      40_000,
    );
    await Bun.sleep(2000);
    const sideEffects = join(first.server.tenantsDir, tenantId, "side-effects.log");
    expect(existsSync(sideEffects)).toBe(true);
    expect(readFileSync(sideEffects, "utf8").trim().split("\n")).toHaveLength(1);
    expect(a.telegramReplies(chat).filter((t) => t === "side effect done")).toHaveLength(1);
    expect(a.telegramReplies(chat).filter((t) => t !== "side effect done" && /went wrong|try again/i.test(t))).toEqual(
      [],
    );
    const logs = first.server.logs();
    expect(logs.some((l) => l.msg === "lease lost; stopping the tenant's run" && l.tenantId === tenantId)).toBe(true);
    expect(
      logs.some((l) => l.msg === "run stopped: the lease was lost; its outcome is dropped" && l.tenantId === tenantId),
    ).toBe(true);
  }, 90_000);
});
