import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { schema } from "../../src/db/index.ts";
import { linkedChatOf } from "../../src/mcp/tool-kit.ts";
import { createTenant, getTenant, setOnboardingStatus } from "../../src/tenants/index.ts";
import { useToolsFixture } from "./setup.ts";

describe("send_message", () => {
  const f = useToolsFixture();

  test("goes through the outbox to the token's tenant's chat", async () => {
    const { token } = f.tools.issueToken(f.a.id, "run-1");
    const result = await f.client.call(token, "send_message", { text: "On it — one minute." });
    expect(result.isError).toBe(false);
    expect(f.outbox).toEqual([
      { tenantId: f.a.id, channel: "telegram", chatId: "111", text: "On it — one minute.", kind: "chat" },
    ]);
  });

  test("a WhatsApp tenant is reached at its phone number", async () => {
    const w = await createTenant(f.ctx, { name: "Willow Salon", phone: "+18015550199", channel: "whatsapp" });
    expect(linkedChatOf(w)).toEqual({ channel: "whatsapp", chatId: "+18015550199" });
    await customerWrote(w.id, "+18015550199", Date.now() - 3_600_000);
    const { token } = f.tools.issueToken(w.id, "run-w");
    expect((await f.client.call(token, "send_message", { text: "hi" })).isError).toBe(false);
    expect(f.outbox.at(-1)).toMatchObject({ tenantId: w.id, channel: "whatsapp", chatId: "+18015550199" });
  });

  test("WhatsApp, customer last wrote 25 h ago, no template: the result says outside_whatsapp_window (text still stored)", async () => {
    const w = await createTenant(f.ctx, { name: "Willow Salon", phone: "+18015550199", channel: "whatsapp" });
    await customerWrote(w.id, "+18015550199", Date.now() - 25 * 3_600_000);
    const { token } = f.tools.issueToken(w.id, "run-w");
    const result = await f.client.call(token, "send_message", { text: "Your order is ready" });
    expect(result.isError).toBe(true);
    expect(result.text).toContain("outside_whatsapp_window");
    expect(f.outbox.at(-1)).toMatchObject({ tenantId: w.id, text: "Your order is ready" });
  });

  /** An inbound WhatsApp row the customer sent at `atMs`. */
  async function customerWrote(tenantId: string, phone: string, atMs: number) {
    await f.ctx.db.insert(schema.messages).values({
      id: crypto.randomUUID(),
      tenant_id: tenantId,
      direction: "in",
      channel: "whatsapp",
      chat_id: phone,
      external_id: `SM${crypto.randomUUID().replace(/-/g, "")}`,
      kind: "chat",
      status: "done",
      created_at: new Date(atMs).toISOString(),
    });
  }

  test("one run may send at most 20 messages; a new run starts afresh", async () => {
    const { token } = f.tools.issueToken(f.a.id, "run-loop");
    for (let i = 0; i < 20; i++)
      expect((await f.client.call(token, "send_message", { text: `update ${i}` })).isError).toBe(false);
    const over = await f.client.call(token, "send_message", { text: "one too many" });
    expect(over.isError).toBe(true);
    expect(over.text).toContain("at most 20 times in one run");
    expect(f.outbox).toHaveLength(20);
    const next = f.tools.issueToken(f.a.id, "run-next");
    expect((await f.client.call(next.token, "send_message", { text: "fresh" })).isError).toBe(false);
    const timeline = readFileSync(
      join(
        f.ctx.config.TENANTS_DIR,
        f.a.id,
        "timeline",
        readdirSync(join(f.ctx.config.TENANTS_DIR, f.a.id, "timeline"))[0] ?? "",
      ),
      "utf8",
    );
    expect(timeline).toContain("Agent tool send_message failed: send_message may be called at most 20 times");
  });

  test("a tenant with no linked chat gets a clear error; empty text is refused", async () => {
    const { token } = f.tools.issueToken(f.c.id, "run-2");
    const unlinked = await f.client.call(token, "send_message", { text: "hello" });
    expect(unlinked.isError).toBe(true);
    expect(unlinked.text).toContain("no linked chat");
    const empty = await f.client.call(token, "send_message", { text: "   " });
    expect(empty.isError).toBe(true);
    expect(f.outbox).toHaveLength(0);
  });
});

describe("update_business_profile", () => {
  const f = useToolsFixture();

  test("merges fields (null removes one) and re-renders CLAUDE.md", async () => {
    const { token } = f.tools.issueToken(f.a.id, "run-1");
    const first = await f.client.call(token, "update_business_profile", {
      fields: { industry: "bakery", location: "Provo, UT" },
    });
    expect(first.isError).toBe(false);
    const second = await f.client.call(token, "update_business_profile", {
      fields: { hours: "Tue-Sat 7-15", location: null },
    });
    expect(second.isError).toBe(false);
    const tenant = await getTenant(f.ctx.db, f.a.id);
    expect(tenant?.business).toEqual({ industry: "bakery", hours: "Tue-Sat 7-15" });
    const claudeMd = readFileSync(join(f.ctx.config.TENANTS_DIR, f.a.id, "CLAUDE.md"), "utf8");
    expect(claudeMd).toContain("bakery");
    expect(claudeMd).toContain("Tue-Sat 7-15");
    expect((await getTenant(f.ctx.db, f.b.id))?.business).toEqual({});
  });

  test("bad fields are tool errors and nothing changes", async () => {
    const { token } = f.tools.issueToken(f.a.id, "run-1");
    for (const fields of [{}, { "Bad Key": "x" }, { email: "not-an-email" }, { industry: 5 }]) {
      const result = await f.client.call(token, "update_business_profile", { fields });
      expect({ fields, isError: result.isError }).toEqual({ fields, isError: true });
    }
    expect((await getTenant(f.ctx.db, f.a.id))?.business).toEqual({});
  });
});

describe("set_onboarding_status", () => {
  const f = useToolsFixture();

  test("the agent may move DISCOVERY → BUILDING, and nothing else", async () => {
    const { token } = f.tools.issueToken(f.a.id, "run-1");
    for (const status of ["LIVE", "PAUSED"]) {
      const refused = await f.client.call(token, "set_onboarding_status", { status });
      expect(refused.isError).toBe(true);
      expect(refused.text).toContain("Only the operator");
    }
    expect((await getTenant(f.ctx.db, f.a.id))?.onboarding_status).toBe("DISCOVERY");
    const moved = await f.client.call(token, "set_onboarding_status", { status: "BUILDING" });
    expect(moved.isError).toBe(false);
    expect((await getTenant(f.ctx.db, f.a.id))?.onboarding_status).toBe("BUILDING");
    const again = await f.client.call(token, "set_onboarding_status", { status: "BUILDING" });
    expect(again).toMatchObject({ isError: false });
    const back = await f.client.call(token, "set_onboarding_status", { status: "DISCOVERY" });
    expect(back.isError).toBe(true);
    expect((await getTenant(f.ctx.db, f.a.id))?.onboarding_status).toBe("BUILDING");
  });

  test("a LIVE tenant's agent cannot pause itself", async () => {
    await setOnboardingStatus(f.ctx, f.b.id, "LIVE", { by: "operator" });
    const { token } = f.tools.issueToken(f.b.id, "run-1");
    const result = await f.client.call(token, "set_onboarding_status", { status: "PAUSED" });
    expect(result.isError).toBe(true);
    expect((await getTenant(f.ctx.db, f.b.id))?.onboarding_status).toBe("LIVE");
  });
});
