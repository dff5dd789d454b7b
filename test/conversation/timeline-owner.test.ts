import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { Channel, ChannelName, InboundMessage } from "../../src/channels/types.ts";
import type { AppContext } from "../../src/context.ts";
import type { Conversation } from "../../src/conversation/index.ts";
import { createConversation } from "../../src/conversation/index.ts";
import { readTimelineDay, timelineWritten } from "../../src/conversation/timeline.ts";
import type { MessageRow } from "../../src/db/index.ts";
import { schema } from "../../src/db/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, eventually, FakeClock, insertTenant } from "../helpers/index.ts";

// Issue 17: a message stored by an instance that does not hold the tenant's workspace gets its timeline line
// from the owner, exactly once, when the owner takes it — dated in the tenant's zone at the message's
// created_at. Two instances on one database in-process (a remote-looking DATABASE_URL turns ownership on,
// as with libSQL); each has its own TENANTS_DIR, as each machine has its own volume.
const CREATED = Date.parse("2026-11-26T14:59:00.000Z"); // 23:59 in Tokyo
let t: TestContext;
let otherTenantsDir: string;
let owner: AppContext;
let other: AppContext;
let conversations: Conversation[];
let prompts: string[];
let tenantId: string;

function instance(base: AppContext, id: string, tenantsDir: string): AppContext {
  return {
    ...base,
    config: { ...base.config, INSTANCE_ID: id, DATABASE_URL: "http://sqld.internal:8080", TENANTS_DIR: tenantsDir },
  };
}

function engine(ctx: AppContext): Conversation {
  const channel: Channel = { name: "telegram", maxLength: 4096, send: async () => ({ ok: true, externalId: "x" }) };
  const runner: AgentRunner = {
    run: async (req) => {
      prompts.push(req.prompt);
      return { kind: "ok", text: "Noted.", sessionId: "s-1", durationMs: 1, exitCode: 0 };
    },
  };
  return createConversation(ctx, {
    channels: { byName: new Map<ChannelName, Channel>([["telegram", channel]]) },
    outbox: { enqueue: async () => [crypto.randomUUID()] },
    runner,
  });
}

function message(text: string, externalId: string): InboundMessage {
  return {
    channel: "telegram",
    externalId,
    chatId: "4242",
    senderName: "Maya",
    text,
    media: [{ kind: "photo", fileId: "f-1" }],
    receivedAtMs: CREATED,
  };
}

async function row(externalId: string): Promise<MessageRow> {
  const [found] = await t.ctx.db.select().from(schema.messages).where(eq(schema.messages.external_id, externalId));
  if (!found) throw new Error(`no message ${externalId}`);
  return found;
}

beforeEach(async () => {
  t = await createTestContext({ clock: new FakeClock(CREATED) });
  otherTenantsDir = mkdtempSync(join(tmpdir(), "ps-other-volume-"));
  owner = instance(t.ctx, "a", t.ctx.config.TENANTS_DIR);
  other = instance(t.ctx, "b", otherTenantsDir);
  prompts = [];
  tenantId = (
    await insertTenant(t.ctx, {
      instance_id: "a",
      timezone: "Asia/Tokyo",
      telegram_chat_id: "4242",
      onboarding_status: "LIVE",
    })
  ).id;
  conversations = [engine(owner), engine(other)];
});
afterEach(async () => {
  for (const c of conversations) await c.dispatcher.stop();
  await timelineWritten();
  rmSync(otherTenantsDir, { recursive: true, force: true });
  await t.cleanup();
});

test("stored by another instance: no line (nor folder) there; the owner writes it once when it takes the batch", async () => {
  const [ownerEngine, otherEngine] = conversations as [Conversation, Conversation];
  await otherEngine.handleInbound(message("Table for two tomorrow?", "u-1"));
  await timelineWritten();
  expect(existsSync(join(otherTenantsDir, tenantId))).toBe(false);
  expect(readTimelineDay(owner, { id: tenantId, timezone: "Asia/Tokyo" }, CREATED).lines).toEqual([]);
  expect((await row("u-1")).timeline_owed).toBe(true);

  (t.ctx.clock as FakeClock).advance(2 * 60_000); // taken after local midnight: the line keeps the message's own day and time
  await ownerEngine.dispatcher.start();
  ownerEngine.dispatcher.wake(); // as the remote-wake poll does
  await eventually(async () => (await row("u-1")).status === "done", "the message run by the owner");
  await ownerEngine.dispatcher.idle();
  await timelineWritten();
  expect(prompts).toHaveLength(1);
  expect(readTimelineDay(owner, { id: tenantId, timezone: "Asia/Tokyo" }, CREATED).lines).toEqual([
    "- 23:59 ← Maya (telegram): Table for two tomorrow? [photo]",
  ]);
  expect((await row("u-1")).timeline_owed).toBe(false);
  expect(existsSync(join(otherTenantsDir, tenantId))).toBe(false);
});

test("stored by the owner itself: the line is written at once and not again when the batch is taken", async () => {
  const [ownerEngine] = conversations as [Conversation, Conversation];
  await ownerEngine.handleInbound(message("Do you open on Sunday?", "u-2"));
  await timelineWritten();
  const day = () => readTimelineDay(owner, { id: tenantId, timezone: "Asia/Tokyo" }, CREATED).lines;
  expect(day()).toEqual(["- 23:59 ← Maya (telegram): Do you open on Sunday? [photo]"]);
  expect((await row("u-2")).timeline_owed).toBe(false);

  await ownerEngine.dispatcher.start();
  ownerEngine.dispatcher.wake();
  await eventually(async () => (await row("u-2")).status === "done", "the message run");
  await ownerEngine.dispatcher.idle();
  await timelineWritten();
  expect(day().filter((line) => line.includes("←"))).toEqual([
    "- 23:59 ← Maya (telegram): Do you open on Sunday? [photo]",
  ]);
});
