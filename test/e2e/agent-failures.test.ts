// Agent failures end to end with the REAL Claude CLI: each is classified, the customer is told once,
// the message rows and GET /health show it; a stale session is retried fresh once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CREDIT_TOO_LOW_ERROR, lastPrompt } from "../fakes/anthropic.ts";
import { eventually, freePort } from "../helpers/index.ts";
import type { Fakes } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "./stack.ts";

const TOLD = "Sorry, I hit a problem and could not finish; I've told the team.";

/** The turn marks its messages done/failed just after handing the reply over: wait for that write. */
async function settledChatRows(stack: StackClient, tenantId: string, count: number) {
  const chatRows = async () =>
    (await stack.rows({ tenantId })).filter((r) => r.direction === "in" && r.kind === "chat");
  const settled = async () =>
    (await chatRows()).filter((r) => r.status === "done" || r.status === "failed").length >= count;
  await eventually(async () => ((await settled()) ? true : undefined), "the message rows to settle", 10_000).catch(
    () => undefined,
  );
  return chatRows();
}

describe.skipIf(!HAS_REAL_CLI)("agent failures end to end (real server, real CLI)", () => {
  let fakes: Fakes;
  let stack: StackClient;
  let phone = 200;

  beforeAll(async () => {
    fakes = startFakes();
    fakes.anthropic.setHandler((req) => {
      const prompt = lastPrompt(req.body) ?? "";
      if (prompt.includes("[hang]")) return { type: "hang" };
      if (prompt.includes("[credit]")) return CREDIT_TOO_LOW_ERROR;
      if (prompt.includes("[crash]")) {
        return {
          type: "error",
          status: 400,
          body: { type: "error", error: { type: "invalid_request_error", message: "prompt is malformed" } },
        };
      }
      return { type: "text", text: `fine: ${prompt.split("\n").at(-1)}` };
    });
    const port = await freePort();
    stack = new StackClient(
      // Cold runs (a 3 s limit includes the CLI's start); the warm path's classification: test/agent/warm-runner.test.ts.
      await spawnServer({
        env: stackEnv(fakes, port, { AGENT_TIMEOUT_MS: "3000", TENANT_DISK_MB: "8", AGENT_WARM: "off" }),
      }),
      fakes,
    );
  });
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
  }, 30_000);

  /** A linked tenant and its chat id. */
  async function linked(name: string): Promise<{ tenantId: string; chat: number }> {
    phone += 1;
    const number = `+1801555${String(phone).padStart(4, "0")}`;
    const tenantId = await stack.createTenant({ name, phone: number });
    const chat = 600000 + phone;
    await stack.telegramLink(chat, number);
    await eventually(() => stack.telegramReplies(chat).find((t) => t.startsWith("Welcome")), "the welcome");
    return { tenantId, chat };
  }

  async function expectFailure(kind: string, tag: string, limitMs = 20_000): Promise<void> {
    const { tenantId, chat } = await linked(`Failing ${kind}`);
    await stack.telegramText(chat, `${tag} please`);
    await eventually(() => stack.telegramReplies(chat).find((t) => t === TOLD), `the ${kind} notice`, limitMs);
    const inbound = await settledChatRows(stack, tenantId, 1);
    expect(inbound).toHaveLength(1);
    expect(inbound[0]!.status).toBe("failed");
    expect(inbound[0]!.error).toStartWith(`${kind}:`);
    const health = await stack.health();
    expect(health.body.last_agent_failure).toEqual({ kind, at: expect.any(String) }); // public: no tenant id, no error text
    const details = await stack.admin("GET", "/admin/agent-health");
    expect(details.status).toBe(200);
    expect(((await details.json()) as { last_agent_failure: unknown }).last_agent_failure).toMatchObject({
      kind,
      tenant_id: tenantId,
      error: expect.any(String),
    });
    await Bun.sleep(300);
    expect(stack.telegramReplies(chat).filter((t) => t === TOLD)).toHaveLength(1);
    expect(
      stack.server.logs().some((l) => l.msg === "agent run failed" && l.kind === kind && l.tenantId === tenantId),
    ).toBe(true);
  }

  test("timeout: the run is killed at AGENT_TIMEOUT_MS", () => expectFailure("timeout", "[hang]"), 30_000);

  test("crash: the CLI ends with an API error", () => expectFailure("crash", "[crash]"), 30_000);

  test("disk quota: a workspace over TENANT_DISK_MB is refused before the CLI starts, the customer told", async () => {
    const { tenantId, chat } = await linked("Failing disk");
    writeFileSync(join(stack.server.tenantsDir, tenantId, "hoard.bin"), Buffer.alloc(9 * 1024 * 1024, 1));
    const before = fakes.anthropic.messageRequests().length;
    await stack.telegramText(chat, "[disk] please");
    await eventually(() => stack.telegramReplies(chat).find((t) => t === TOLD), "the disk notice", 20_000);
    const inbound = await settledChatRows(stack, tenantId, 1);
    expect(inbound[0]!.error).toStartWith("disk_quota_exceeded: the tenant uses");
    expect(fakes.anthropic.messageRequests().length).toBe(before); // no CLI ran
    expect(
      stack.server
        .logs()
        .some((l) => l.msg === "agent run refused" && l.kind === "disk_quota_exceeded" && l.tenantId === tenantId),
    ).toBe(true);
  }, 30_000);

  test("credit too low: /health is degraded until a run succeeds", async () => {
    await expectFailure("credit_too_low", "[credit]");
    const degraded = await stack.health();
    expect(degraded.status).toBe(503);
    expect(degraded.body.status).toBe("degraded");
    const { chat } = await linked("Recovered Rentals");
    await stack.telegramText(chat, "all good now");
    await eventually(() => stack.telegramReplies(chat).find((t) => t.startsWith("fine:")), "a successful run");
    const healthy = await stack.health();
    expect(healthy.body.last_agent_failure).toMatchObject({ kind: "credit_too_low" });
    expect(healthy.body.status).not.toBe("degraded");
  }, 40_000);

  test("stale session: retried once without --resume, the new session stored, the customer answered", async () => {
    const { tenantId, chat } = await linked("Stale Stationers");
    await stack.telegramText(chat, "first turn");
    await eventually(() => stack.telegramReplies(chat).find((t) => t.startsWith("fine:")), "the first reply");
    const stale = "6f9a1c2e-0000-4000-8000-00000000dead";
    await stack.sql("UPDATE conversation_sessions SET agent_session_id = ? WHERE tenant_id = ?", stale, tenantId);
    await stack.telegramText(chat, "after the transcript vanished");
    await eventually(
      () => stack.telegramReplies(chat).find((t) => t.includes("after the transcript vanished")),
      "the retried reply",
    );
    const log = stack.server
      .logs()
      .find((l) => l.msg === "agent run ok" && l.tenantId === tenantId && l.sessionReset === true);
    expect(log).toBeDefined();
    const inbound = await settledChatRows(stack, tenantId, 2);
    expect(inbound.map((r) => r.status)).toEqual(["done", "done"]);
  }, 30_000);
});

describe.skipIf(!HAS_REAL_CLI)("bad agent output end to end (real CLI printing text instead of JSON)", () => {
  let fakes: Fakes;
  let stack: StackClient;
  beforeAll(async () => {
    fakes = startFakes();
    fakes.anthropic.setHandler(() => ({ type: "text", text: "plain words, not JSON" }));
    const port = await freePort();
    // A later --output-format wins over the runner's json: the CLI prints plain text.
    // Cold runs (AGENT_WARM=off): a warm process is started with stream-json, which the CLI refuses with text output.
    const env = stackEnv(fakes, port, { AGENT_ARGS: "--allowedTools Bash --output-format text", AGENT_WARM: "off" });
    stack = new StackClient(await spawnServer({ env }), fakes);
  });
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
  }, 30_000);

  test("bad_output: classified, customer told, row and /health show it", async () => {
    const tenantId = await stack.createTenant({ name: "Text Tailors", phone: "+18015550301" });
    const chat = 600301;
    await stack.telegramLink(chat, "+18015550301");
    await stack.telegramText(chat, "hello");
    await eventually(() => stack.telegramReplies(chat).find((t) => t === TOLD), "the notice");
    const row = (await settledChatRows(stack, tenantId, 1))[0]!;
    expect(row.status).toBe("failed");
    expect(row.error).toStartWith("bad_output:");
    expect((await stack.health()).body.last_agent_failure).toMatchObject({ kind: "bad_output" });
  }, 30_000);
});
