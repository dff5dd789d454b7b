// End to end through a real server process and the REAL Claude CLI (scripted by the fake Anthropic API):
// linking, replies, session resume and /reset, duplicates, batching during a slow run, the tenant's
// credentials in the agent's environment, media, outbox retries and splitting, and the refusals.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { lastPrompt, lastToolResult, userTexts } from "../fakes/anthropic.ts";
import { photoUpdate, textUpdate } from "../fakes/telegram.ts";
import { eventually, freePort } from "../helpers/index.ts";
import type { Fakes } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "./stack.ts";

const LONG_ANSWER = Array.from({ length: 10 }, (_, i) =>
  `Paragraph ${i + 1}. ${"All good with the bakery today. ".repeat(15)}`.trimEnd(),
).join("\n\n");

describe.skipIf(!HAS_REAL_CLI)("telegram conversation end to end (real server, real CLI)", () => {
  let fakes: Fakes;
  let stack: StackClient;
  let slowActive = 0;
  let slowMaxActive = 0;

  beforeAll(async () => {
    fakes = startFakes();
    fakes.anthropic.setHandler(async (req) => {
      if (lastToolResult(req.body) !== undefined) return undefined; // a tool step: echo the tool's output
      const prompt = lastPrompt(req.body) ?? "";
      if (prompt.includes("[slow]")) {
        slowActive += 1;
        slowMaxActive = Math.max(slowMaxActive, slowActive);
        await Bun.sleep(2500);
        slowActive -= 1;
        return { type: "text", text: `slow answer to ${(prompt.match(/\[slow\] \w+/g) ?? []).join(", ")}` };
      }
      if (prompt.includes("[env]")) {
        return {
          type: "tool_use",
          name: "Bash",
          input: {
            command:
              "echo ACME=$ACME_API_TOKEN; echo BOT=${TELEGRAM_BOT_TOKEN:-none}; echo ADMIN=${ADMIN_API_KEY:-none}; echo TWILIO=${TWILIO_AUTH_TOKEN:-none}; echo SENDGRID=${SENDGRID_API_KEY:-none}",
            description: "env",
          },
        };
      }
      if (prompt.includes("[long]")) return { type: "text", text: LONG_ANSWER };
      if (prompt.includes("[photo]")) return { type: "text", text: "Nice photo" };
      const said =
        prompt
          .split("\n")
          .filter((l) => l.trim() !== "" && !l.startsWith("["))
          .at(-1) ?? "";
      return { type: "text", text: `You said: ${said}` };
    });
    const port = await freePort();
    const server = await spawnServer({ env: stackEnv(fakes, port, { RATE_LIMIT_PER_MINUTE: "12" }) });
    stack = new StackClient(server, fakes);
  });
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
  }, 30_000);

  test("the deep link links; replies carry the API's text; the second run resumes the session; /reset starts fresh", async () => {
    const tenantId = await stack.createTenant({ name: "Alpine Bakery", phone: "+18015550101" });
    const chat = 500101;
    const made = await stack.admin("POST", `/admin/tenants/${tenantId}/link-code`);
    expect(made.status).toBe(201);
    const { code, url } = (await made.json()) as { code: string; url: string | null };
    if (url !== null) expect(url).toBe(`https://t.me/fake_proxystaff_bot?start=${code}`);
    await stack.telegramText(chat, `/start ${code}`); // what Telegram sends when the link is tapped
    await eventually(() => stack.telegramReplies(chat).find((t) => t.includes("Alpine Bakery")), "the welcome");
    const welcome = fakes.telegram.sent.find((m) => String(m.chat_id) === String(chat));
    expect(welcome?.params.reply_markup).toEqual({ remove_keyboard: true });

    await stack.telegramText(chat, "Hello, it is Anna");
    await eventually(
      () => stack.telegramReplies(chat).find((t) => t === "You said: Hello, it is Anna"),
      "the first reply",
    );
    await stack.telegramText(chat, "Second question");
    await eventually(
      () => stack.telegramReplies(chat).find((t) => t === "You said: Second question"),
      "the second reply",
    );
    const second = fakes.anthropic
      .messageRequests()
      .find((r) => (lastPrompt(r.body) ?? "").includes("Second question"))!;
    const history = userTexts(second.body).join("\n");
    expect(history).toContain("Hello, it is Anna");
    expect(JSON.stringify(second.body?.messages)).toContain("You said: Hello, it is Anna");

    await stack.telegramText(chat, "/reset");
    await eventually(
      () => stack.telegramReplies(chat).find((t) => t.includes("fresh conversation")),
      "the reset confirmation",
    );
    await stack.telegramText(chat, "Third after reset");
    await eventually(
      () => stack.telegramReplies(chat).find((t) => t === "You said: Third after reset"),
      "the reply after reset",
    );
    const third = fakes.anthropic
      .messageRequests()
      .find((r) => (lastPrompt(r.body) ?? "").includes("Third after reset"))!;
    expect(userTexts(third.body).join("\n")).not.toContain("Hello, it is Anna");

    // The turn marks its messages done and writes its timeline lines just after the reply is handed over.
    const inbound = async () =>
      (await stack.rows({ tenantId })).filter((r) => r.direction === "in").map((r) => `${r.kind}:${r.status}`);
    const expected = ["command:done", "chat:done", "chat:done", "command:done", "chat:done"];
    await eventually(
      async () => (JSON.stringify(await inbound()) === JSON.stringify(expected) ? true : undefined),
      "every message done",
      10_000,
    ).catch(() => undefined);
    expect(await inbound()).toEqual(expected);
    const timelineDir = join(stack.server.tenantsDir, tenantId, "timeline");
    const readTimeline = () =>
      readdirSync(timelineDir)
        .map((f) => readFileSync(join(timelineDir, f), "utf8"))
        .join("");
    await eventually(() => (readTimeline().includes("session reset") ? true : undefined), "the timeline", 10_000).catch(
      () => undefined,
    );
    const timeline = readTimeline();
    expect(timeline).toContain("linked by a one-time link code");
    expect(timeline).toMatch(/- \d\d:\d\d ← Ada \(telegram\): Hello, it is Anna/); // the fake's first_name, local time
    expect(timeline).toContain("→ reply: You said: Hello, it is Anna");
    expect(timeline).toContain("session reset");
  }, 60_000);

  test("a duplicate webhook delivery → one agent call, one reply", async () => {
    await stack.createTenant({ name: "Dup Diner", phone: "+18015550102" });
    const chat = 500102;
    await stack.telegramLink(chat, "+18015550102");
    const update = { ...textUpdate({ chatId: chat, text: "duplicate check" }), update_id: stack.nextUpdateId() };
    await Promise.all([stack.postTelegram(update), stack.postTelegram(update)]);
    await stack.postTelegram(update);
    await eventually(() => stack.telegramReplies(chat).find((t) => t === "You said: duplicate check"), "the reply");
    await Bun.sleep(1500); // a second run, if there were one, would have answered by now
    expect(stack.telegramReplies(chat).filter((t) => t === "You said: duplicate check")).toHaveLength(1);
    expect(
      fakes.anthropic.messageRequests().filter((r) => (lastPrompt(r.body) ?? "").includes("duplicate check")),
    ).toHaveLength(1);
  }, 30_000);

  test("three messages during a slow run → one follow-up run; never two runs of one tenant at once", async () => {
    const tenantId = await stack.createTenant({ name: "Slow Shop", phone: "+18015550103" });
    const chat = 500103;
    await stack.telegramLink(chat, "+18015550103");
    await stack.telegramText(chat, "[slow] first");
    await eventually(() => slowActive === 1 || undefined, "the slow run to start");
    for (const word of ["two", "three", "four"]) await stack.telegramText(chat, `[slow] ${word}`);
    const replies = await eventually(() => {
      const r = stack.telegramReplies(chat).filter((t) => t.startsWith("slow answer"));
      return r.length >= 2 ? r : undefined;
    }, "both runs' replies");
    expect(replies).toEqual(["slow answer to [slow] first", "slow answer to [slow] two, [slow] three, [slow] four"]);
    expect(slowMaxActive).toBe(1);
    expect(
      fakes.telegram.calls.some((c) => c.method === "sendChatAction" && String(c.params.chat_id) === String(chat)),
    ).toBe(true);
    const chatStatuses = async () =>
      (await stack.rows({ tenantId })).filter((r) => r.direction === "in" && r.kind === "chat").map((r) => r.status);
    await eventually(
      async () => ((await chatStatuses()).every((s) => s === "done") ? true : undefined),
      "the rows marked done",
      10_000,
    ).catch(() => undefined);
    expect(await chatStatuses()).toEqual(["done", "done", "done", "done"]);
  }, 40_000);

  test("the tenant's credentials reach the agent's environment; platform and server-side secrets do not", async () => {
    const tenantId = await stack.createTenant({ name: "Env Electric", phone: "+18015550104" });
    const saved = await stack.admin("POST", `/admin/tenants/${tenantId}/credentials`, {
      credentials: { ACME_API_TOKEN: "acme-secret-0104", SENDGRID_API_KEY: "SG.server-side-only" },
    });
    expect(saved.status).toBeLessThan(300);
    const chat = 500104;
    await stack.telegramLink(chat, "+18015550104");
    await stack.telegramText(chat, "[env] show me");
    const reply = await eventually(
      () => stack.telegramReplies(chat).find((t) => t.includes("ACME=")),
      "the printenv reply",
    );
    expect(reply).toContain("ACME=acme-secret-0104");
    expect(reply).toContain("BOT=none");
    expect(reply).toContain("ADMIN=none");
    expect(reply).toContain("TWILIO=none");
    expect(reply).toContain("SENDGRID=none");
  }, 30_000);

  test("a photo is saved in inbox/ and its path reaches the agent's prompt", async () => {
    const tenantId = await stack.createTenant({ name: "Photo Florist", phone: "+18015550105" });
    const chat = 500105;
    await stack.telegramLink(chat, "+18015550105");
    const file = fakes.telegram.addFile("\xff\xd8\xff fake jpeg", "photos/file_1.jpg");
    await stack.postTelegram({
      ...photoUpdate({ chatId: chat, fileId: file.file_id, caption: "[photo] our window" }),
      update_id: stack.nextUpdateId(),
    });
    await eventually(() => stack.telegramReplies(chat).find((t) => t === "Nice photo"), "the reply");
    const inbox = readdirSync(join(stack.server.tenantsDir, tenantId, "inbox"));
    expect(inbox).toHaveLength(1);
    const run = fakes.anthropic
      .messageRequests()
      .find((r) => (lastPrompt(r.body) ?? "").includes("[photo] our window"))!;
    expect(lastPrompt(run.body)).toContain(`inbox/${inbox[0]}`);
    expect(existsSync(join(stack.server.tenantsDir, tenantId, "inbox", inbox[0]!))).toBe(true);
  }, 30_000);

  test("sendMessage answering 429 twice, then OK → one reply; 5,000 characters arrive as two messages", async () => {
    await stack.createTenant({ name: "Retry Roasters", phone: "+18015550106" });
    const chat = 500106;
    await stack.telegramLink(chat, "+18015550106");
    await eventually(() => stack.telegramReplies(chat).find((t) => t.startsWith("Welcome")), "the welcome");
    fakes.telegram.failNext("sendMessage", "429", 2, { retryAfterS: 1 });
    await stack.telegramText(chat, "after the storm");
    await eventually(
      () => stack.telegramReplies(chat).find((t) => t === "You said: after the storm"),
      "the retried reply",
      20_000,
    );
    expect(stack.telegramReplies(chat).filter((t) => t === "You said: after the storm")).toHaveLength(1);

    await stack.telegramText(chat, "[long] tell me everything");
    const parts = await eventually(() => {
      const p = stack.telegramReplies(chat).filter((t) => t.includes("Paragraph"));
      return p.length >= 2 ? p : undefined;
    }, "the long reply");
    expect(parts).toHaveLength(2);
    expect(parts.every((p) => p.length <= 4096)).toBe(true);
    expect(parts.join("\n\n")).toBe(LONG_ANSWER);
  }, 40_000);

  test("refusals: unknown chat, linking a stranger's or an unknown number, paused tenant, rate limit", async () => {
    await stack.telegramText(500190, "hello?");
    await eventually(
      () =>
        stack.telegramReplies(500190).find((t) => t.includes("No account found for this chat") && t.includes("/start")),
      "unknown chat",
    );
    expect((await stack.rows({ chatId: "500190" })).find((r) => r.direction === "in")).toMatchObject({
      status: "rejected",
      error: "unknown_chat",
    });

    // A stranger tries the linked tenant's number and an unknown one: the contact button, then one uniform refusal; nothing names a business.
    await stack.telegramText(500191, "/start +18015559999");
    await stack.telegramText(500191, "/start +18015550101"); // linked to chat 500101 in the first test
    const prompts = await eventually(() => {
      const sent = fakes.telegram.sent.filter((m) => String(m.chat_id) === "500191");
      return sent.length === 2 ? sent : undefined;
    }, "both contact prompts");
    expect(prompts[0]!.text).toBe(prompts[1]!.text);
    expect(prompts[0]!.params.reply_markup).toMatchObject({
      keyboard: [[{ request_contact: true }]],
      one_time_keyboard: true,
    });
    await stack.telegramContact(500191, "+18015550101", 424242); // the owner's card, forwarded
    await stack.telegramContact(500191, "+18015559999"); // the stranger's own number, no tenant
    const refusals = await eventually(() => {
      const r = stack.telegramReplies(500191).slice(2);
      return r.length === 2 ? r : undefined;
    }, "the refusals");
    expect(refusals[0]).toBe(refusals[1]);
    expect(stack.telegramReplies(500191).join("\n")).not.toMatch(
      /Alpine|Bakery|already linked|No account found for \+/,
    );
    expect((await stack.rows({ chatId: "500191" })).filter((r) => r.direction === "in").map((r) => r.error)).toEqual([
      null,
      null,
      "contact_not_own",
      "no_account_for_phone",
    ]);

    const pausedId = await stack.createTenant({ name: "Paused Pets", phone: "+18015550107" });
    await stack.telegramLink(500107, "+18015550107");
    expect((await stack.admin("PATCH", `/admin/tenants/${pausedId}`, { onboarding_status: "PAUSED" })).status).toBe(
      200,
    );
    await stack.telegramText(500107, "are you there?");
    await eventually(() => stack.telegramReplies(500107).find((t) => t.includes("paused")), "paused reply");
    expect((await stack.rows({ tenantId: pausedId })).at(-2)).toMatchObject({
      status: "rejected",
      error: "tenant_paused",
    });

    const limitedId = await stack.createTenant({ name: "Busy Bees", phone: "+18015550108" });
    await stack.telegramLink(500108, "+18015550108");
    for (let i = 0; i < 14; i++) await stack.telegramText(500108, `burst${i}`);
    await eventually(() => stack.telegramReplies(500108).find((t) => t.includes("slow down")), "slow-down reply");
    const inbound = (await stack.rows({ tenantId: limitedId })).filter((r) => r.direction === "in");
    expect(inbound.filter((r) => r.error === "rate_limited")).toHaveLength(3); // 1 command + 11 chats fill the 12
    expect(stack.telegramReplies(500108).filter((t) => t.includes("slow down"))).toHaveLength(1);
  }, 60_000);
});
