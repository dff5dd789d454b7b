// WhatsApp end to end: a signed Twilio webhook from the tenant's number auto-links and is answered through
// the fake Twilio API by the REAL Claude CLI; a bad or missing signature is refused and nothing stored.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lastPrompt } from "../fakes/anthropic.ts";
import { eventually, freePort } from "../helpers/index.ts";
import type { Fakes } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes, WHATSAPP_FROM } from "./stack.ts";

describe.skipIf(!HAS_REAL_CLI)("whatsapp end to end (real server, real CLI)", () => {
  let fakes: Fakes;
  let stack: StackClient;

  beforeAll(async () => {
    fakes = startFakes();
    fakes.anthropic.setHandler((req) => ({
      type: "text",
      text: `WA: ${(lastPrompt(req.body) ?? "").split("\n").at(-1)}`,
    }));
    stack = new StackClient(await spawnServer({ env: stackEnv(fakes, await freePort()) }), fakes);
  });
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
  }, 30_000);

  const sentTo = (phone: string) => fakes.twilio.sent.filter((m) => m.to === `whatsapp:${phone}`).map((m) => m.body);

  test("a signed message from the tenant's number is answered (auto-link); a redelivery is dropped", async () => {
    const tenantId = await stack.createTenant({ name: "Wave Wines", phone: "+18015550701", channel: "whatsapp" });
    const sid = `SM${"1".repeat(32)}`;
    const res = await stack.whatsapp("+18015550701", "Do we have rosé?", { messageSid: sid });
    expect(res.status).toBe(200);
    await eventually(() => sentTo("+18015550701").find((t) => t === "WA: Do we have rosé?"), "the WhatsApp reply");
    expect(fakes.twilio.sent.find((m) => m.body === "WA: Do we have rosé?")?.from).toBe(WHATSAPP_FROM);
    expect((await stack.whatsapp("+18015550701", "Do we have rosé?", { messageSid: sid })).status).toBe(200);
    await Bun.sleep(1000);
    expect(sentTo("+18015550701")).toHaveLength(1);
    expect((await stack.rows({ tenantId })).filter((r) => r.direction === "in").map((r) => r.status)).toEqual(["done"]);
  }, 30_000);

  test("an unknown number is told no account was found", async () => {
    await stack.whatsapp("+18015550799", "hi");
    await eventually(
      () => sentTo("+18015550799").find((t) => t.includes("No account found for this chat")),
      "the refusal",
    );
  }, 30_000);

  test("a bad or missing signature → 403 and nothing stored", async () => {
    await stack.createTenant({ name: "Forged Fish", phone: "+18015550702", channel: "whatsapp" });
    expect((await stack.whatsapp("+18015550702", "forged", { signature: "bm90IGEgc2lnbmF0dXJl" })).status).toBe(403);
    expect((await stack.whatsapp("+18015550702", "unsigned", { signature: null })).status).toBe(403);
    expect(await stack.rows({ chatId: "+18015550702" })).toHaveLength(0);
  }, 30_000);
});
