// kill -9 of the real server process, then a restart on the same data: nothing is lost and nothing is
// answered twice. The agent is the REAL Claude CLI, scripted by the fake Anthropic API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lastPrompt } from "../fakes/anthropic.ts";
import { eventually, freePort } from "../helpers/index.ts";
import type { Fakes, ServerProcess } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "./stack.ts";

describe.skipIf(!HAS_REAL_CLI)("crash recovery end to end (kill -9, restart)", () => {
  let fakes: Fakes;
  let dir: string;
  let env: Record<string, string>;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    fakes = startFakes();
    fakes.anthropic.setHandler(async (req) => {
      const prompt = lastPrompt(req.body) ?? "";
      if (prompt.includes("[slow]")) {
        await Bun.sleep(3000);
        return { type: "text", text: "slow reply" };
      }
      return { type: "text", text: `reply: ${prompt.split("\n").at(-1)}` };
    });
    dir = mkdtempSync(join(tmpdir(), "proxystaff-crash-"));
    env = stackEnv(fakes, await freePort());
  });
  afterAll(async () => {
    for (const s of servers) await s.cleanup();
    await fakes?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  async function start(): Promise<StackClient> {
    const server = await spawnServer({ dir, env });
    servers.push(server);
    return new StackClient(server, fakes);
  }

  async function killHard(stack: StackClient): Promise<void> {
    stack.server.proc.kill("SIGKILL");
    await stack.server.proc.exited;
  }

  const runsWith = (tag: string) =>
    fakes.anthropic.messageRequests().filter((r) => (lastPrompt(r.body) ?? "").includes(tag)).length;

  test("killed during a slow agent run → after restart the run is done again and answered exactly once", async () => {
    let stack = await start();
    const tenantId = await stack.createTenant({ name: "Crashy Cafe", phone: "+18015550501" });
    const chat = 700501;
    await stack.telegramLink(chat, "+18015550501");
    await stack.telegramText(chat, "[slow] kill me mid-run");
    await eventually(() => runsWith("kill me mid-run") === 1 || undefined, "the agent run to reach the API");
    await killHard(stack);

    stack = await start();
    await eventually(
      () => stack.telegramReplies(chat).find((t) => t === "slow reply"),
      "the reply after restart",
      30_000,
    );
    await Bun.sleep(4000); // the orphaned first CLI has finished by now; nothing more may arrive
    expect(stack.telegramReplies(chat).filter((t) => t === "slow reply")).toHaveLength(1);
    const inbound = (await stack.rows({ tenantId })).filter((r) => r.direction === "in" && r.kind === "chat");
    expect(inbound.map((r) => r.status)).toEqual(["done"]);
    expect(
      stack.server
        .logs()
        .some((l) => l.msg === "freed the lease of a dead process" || l.msg === "re-queued messages of runs cut short"),
    ).toBe(true);
    await killHard(stack);
  }, 60_000);

  test("killed after the agent finished but before the reply was sent → sent exactly once after restart, not run again", async () => {
    let stack = await start();
    const tenantId = await stack.createTenant({ name: "Pending Pizzeria", phone: "+18015550502" });
    const chat = 700502;
    await stack.telegramLink(chat, "+18015550502");
    await eventually(() => stack.telegramReplies(chat).find((t) => t.startsWith("Welcome")), "the welcome");
    fakes.telegram.failNext("sendMessage", "429", 1, { retryAfterS: 3 });
    await stack.telegramText(chat, "answer me once");
    // The reply was stored and its first send refused (429, retry in 3 s): kill before the retry.
    await eventually(
      () =>
        fakes.telegram.calls.some(
          (c) =>
            c.method === "sendMessage" &&
            String(c.params.chat_id) === String(chat) &&
            String(c.params.text).includes("answer me once"),
        ) || undefined,
      "the first (refused) send",
    );
    await killHard(stack);
    expect(stack.telegramReplies(chat).filter((t) => t.includes("answer me once"))).toHaveLength(0);

    stack = await start();
    await eventually(
      () => stack.telegramReplies(chat).find((t) => t === "reply: answer me once"),
      "the reply after restart",
      20_000,
    );
    await Bun.sleep(1500);
    expect(stack.telegramReplies(chat).filter((t) => t === "reply: answer me once")).toHaveLength(1);
    expect(runsWith("answer me once")).toBe(1);
    const rows = await stack.rows({ tenantId });
    expect(rows.filter((r) => r.direction === "in" && r.kind === "chat").map((r) => r.status)).toEqual(["done"]);
    expect(rows.filter((r) => r.direction === "out" && r.kind === "chat").map((r) => r.status)).toEqual(["sent"]);
  }, 60_000);
});
