import { schema } from "../../src/db/index.ts";
import { recordModelUsage } from "../../src/usage/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { insertTenant } from "../helpers/index.ts";

/** "now" of the console's data tests. */
export const NOW_MS = Date.parse("2026-11-26T09:00:00.000Z");
const iso = (msAgo: number) => new Date(NOW_MS - msAgo).toISOString();

/** A message row straight into the table (these tests read, the conversation module writes for real). */
export async function insertMessage(
  t: TestContext,
  tenantId: string,
  fields: Partial<typeof schema.messages.$inferInsert> & { agoMs?: number } = {},
): Promise<void> {
  const { agoMs = 60_000, ...rest } = fields;
  await t.ctx.db.insert(schema.messages).values({
    id: crypto.randomUUID(),
    tenant_id: tenantId,
    direction: "in",
    channel: "telegram",
    chat_id: "1",
    body: "hello",
    status: "done",
    created_at: iso(agoMs),
    ...rest,
  });
}

/**
 * Four tenants in different states: Alpine (healthy, LIVE, linked), Birch (unlinked Telegram), Cedar (a failed run
 * an hour ago, 90 % of its budget spent), Dune (PAUSED WhatsApp, a run stuck with an expired lease).
 */
export async function seedFour(t: TestContext) {
  const alpine = await insertTenant(t.ctx, {
    name: "Alpine Bakery",
    onboarding_status: "LIVE",
    telegram_chat_id: "100",
    phone_number: "+18015550101",
  });
  const birch = await insertTenant(t.ctx, { name: "Birch Dental", onboarding_status: "BUILDING" });
  const cedar = await insertTenant(t.ctx, {
    name: "Cedar Garage",
    onboarding_status: "LIVE",
    telegram_chat_id: "300",
    monthly_budget_usd: 10,
  });
  const dune = await insertTenant(t.ctx, { name: "Dune Surf", channel: "whatsapp", onboarding_status: "PAUSED" });
  await insertMessage(t, alpine.id, { agoMs: 5 * 60_000 });
  await insertMessage(t, alpine.id, { direction: "out", status: "sent", agoMs: 4 * 60_000 });
  await insertMessage(t, cedar.id, {
    status: "failed",
    error: "timeout: no answer within 300000 ms",
    agoMs: 3_600_000,
  });
  await insertMessage(t, cedar.id, { status: "failed", error: "crash: old", agoMs: 3 * 86_400_000 });
  await insertMessage(t, dune.id, { channel: "whatsapp", status: "processing", agoMs: 20 * 60_000 });
  await t.ctx.db.insert(schema.conversationSessions).values({
    tenant_id: dune.id,
    lease_owner: "gone-process",
    lease_expires_at: iso(10 * 60_000),
  });
  const usage = { runId: "r1", model: "claude-x", inputTokens: 100, outputTokens: 50, cacheCreationInputTokens: 0 };
  await recordModelUsage(t.ctx.db, {
    ...usage,
    tenantId: cedar.id,
    cacheReadInputTokens: 0,
    costUsd: 9,
    status: 200,
    day: "2026-11-20",
  });
  await recordModelUsage(t.ctx.db, {
    ...usage,
    tenantId: alpine.id,
    cacheReadInputTokens: 0,
    costUsd: 1.5,
    status: 200,
    day: "2026-11-25",
  });
  // Last month's spend is not this month's.
  await recordModelUsage(t.ctx.db, {
    ...usage,
    tenantId: alpine.id,
    cacheReadInputTokens: 0,
    costUsd: 50,
    status: 200,
    day: "2026-10-31",
  });
  return { alpine, birch, cedar, dune };
}
