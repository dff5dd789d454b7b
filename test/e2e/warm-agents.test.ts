// Issue 14 end to end: a real server process, the REAL Claude CLI, the fake Anthropic API and Telegram. A tenant's
// follow-up messages are answered by one warm CLI process; /health and /metrics show it; /reset retires it; the
// server's SIGTERM ends every warm process (nothing left behind).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lastPrompt, userTexts } from "../fakes/anthropic.ts";
import { eventually, freePort } from "../helpers/index.ts";
import type { Fakes } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "./stack.ts";

/** Pids of live (not zombie) processes in process group `pgid`. */
function liveInGroup(pgid: number): number[] {
  const ps = Bun.spawnSync(["ps", "-eo", "pid=,pgid=,stat="]).stdout.toString();
  return ps
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && Number(f[1]) === pgid && !f[2]!.startsWith("Z"))
    .map((f) => Number(f[0]));
}

describe.skipIf(!HAS_REAL_CLI)("warm agents end to end (real server, real CLI)", () => {
  let fakes: Fakes;
  let stack: StackClient;

  beforeAll(async () => {
    fakes = startFakes();
    fakes.anthropic.setHandler((req) => ({
      type: "text",
      text: `You said: ${lastPrompt(req.body)?.split("\n").at(-1)}`,
    }));
    const port = await freePort();
    const server = await spawnServer({
      // AGENT_WARM_IDLE_MS=20000: the pool's periodic check (idle, paused tenants) runs every 2 s.
      env: stackEnv(fakes, port, {
        AGENT_TIMEOUT_MS: "60000",
        AGENT_WARM: "on",
        AGENT_WARM_IDLE_MS: "20000",
        METRICS_PUBLIC: "true",
      }),
    });
    stack = new StackClient(server, fakes);
  });
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
  }, 30_000);

  const started = () => stack.server.logs().filter((l) => l.msg === "warm agent started");
  const runs = () => stack.server.logs().filter((l) => l.msg === "agent run finished");

  test("a paused tenant's warm process is retired by the pool's periodic check", async () => {
    const tenantId = await stack.createTenant({ name: "Pausing Pastry", phone: "+18015550142" });
    const chat = 500142;
    await stack.telegramLink(chat, "+18015550142");
    await eventually(() => stack.telegramReplies(chat).find((t) => t.includes("Pausing Pastry")), "linked");
    await stack.telegramText(chat, "hello before the pause");
    await eventually(() => stack.telegramReplies(chat).find((t) => t === "You said: hello before the pause"), "reply");
    const pid = Number(started().find((l) => l.tenantId === tenantId)?.pid);
    expect(liveInGroup(pid).length).toBeGreaterThan(0);
    expect((await stack.admin("PATCH", `/admin/tenants/${tenantId}`, { onboarding_status: "PAUSED" })).status).toBe(
      200,
    );
    await eventually(
      () =>
        stack.server
          .logs()
          .find((l) => l.msg === "warm agent retired" && l.tenantId === tenantId && l.reason === "tenant_stopped"),
      "the paused tenant's process retired",
      15_000,
    );
    await eventually(() => (liveInGroup(pid).length === 0 ? true : undefined), "its processes gone", 10_000);
  });

  test("three messages in a row: one warm process, the third request holds the whole history; /reset retires it; SIGTERM leaves nothing behind", async () => {
    const tenantId = await stack.createTenant({ name: "Warm Bakery", phone: "+18015550141" });
    const chat = 500141;
    await stack.telegramLink(chat, "+18015550141");
    await eventually(() => stack.telegramReplies(chat).find((t) => t.includes("Warm Bakery")), "linked");

    for (const text of ["first message", "second message", "third message"]) {
      await stack.telegramText(chat, text);
      await eventually(() => stack.telegramReplies(chat).find((t) => t === `You said: ${text}`), `reply to ${text}`);
    }
    expect(started().filter((l) => l.tenantId === tenantId)).toHaveLength(1);
    expect(
      runs()
        .filter((l) => l.tenantId === tenantId)
        .map((l) => l.warm),
    ).toEqual([false, true, true]);
    const last = fakes.anthropic.messageRequests().at(-1)?.body;
    expect(userTexts(last).map((t) => t.split("\n").at(-1))).toEqual([
      "first message",
      "second message",
      "third message",
    ]);
    // Each message answered once.
    expect(stack.telegramReplies(chat).filter((t) => t.startsWith("You said:"))).toHaveLength(3);

    const health = await stack.health();
    expect(health.body.agent_warm).toMatchObject({ processes: 1, busy: 0 });
    expect((health.body.agent_warm as { rss_bytes: number }).rss_bytes).toBeGreaterThan(0);
    const metrics = await (await fetch(`${stack.server.url}/metrics`)).text();
    expect(metrics).toContain("proxystaff_agent_warm_processes 1");
    expect(metrics).toMatch(/proxystaff_agent_warm_rss_bytes [1-9]\d*/);

    // /reset: the stored session is forgotten; the pool's periodic check retires the process (session_changed),
    // and the next message starts a new process and a new conversation.
    await stack.telegramText(chat, "/reset");
    await eventually(() => stack.telegramReplies(chat).length > 4 || undefined, "the reset's reply");
    await eventually(
      () =>
        stack.server
          .logs()
          .find((l) => l.msg === "warm agent retired" && l.tenantId === tenantId && l.reason === "session_changed"),
      "the reset process retired",
      15_000,
    );
    await stack.telegramText(chat, "after reset");
    await eventually(() => stack.telegramReplies(chat).find((t) => t === "You said: after reset"), "reply after reset");
    expect(started().filter((l) => l.tenantId === tenantId)).toHaveLength(2);
    expect(userTexts(fakes.anthropic.messageRequests().at(-1)?.body).map((t) => t.split("\n").at(-1))).toEqual([
      "after reset",
    ]);

    const pids = started().map((l) => Number(l.pid));
    expect(liveInGroup(pids.at(-1)!).length).toBeGreaterThan(0);
    expect(await stack.server.stop("SIGTERM", 20_000)).toBe(0);
    for (const pid of pids) expect(liveInGroup(pid)).toEqual([]);
    expect(stack.server.logs().some((l) => l.msg === "warm agent retired" && l.reason === "server_stopping")).toBe(
      true,
    );
  });
});
