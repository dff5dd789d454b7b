import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { AgentRunRequest } from "../../src/agent/runner.ts";
import type { Channel, ChannelName, InboundMessage } from "../../src/channels/types.ts";
import type { AppContext } from "../../src/context.ts";
import type { Conversation } from "../../src/conversation/index.ts";
import { createConversation } from "../../src/conversation/index.ts";
import { messages } from "../../src/db/schema.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant } from "../helpers/index.ts";

let n = 0;
const photo = (fileId: string, text = "look"): InboundMessage => {
  n += 1;
  return {
    channel: "telegram",
    externalId: `m-${n}`,
    chatId: "1001",
    text,
    senderName: "Owner",
    media: [{ kind: "photo", fileId }],
    receivedAtMs: Date.now(),
  };
};

describe("media: downloaded in the turn, before the agent runs", () => {
  let tc: TestContext;
  let ctx: AppContext;
  let conversation: Conversation;
  let requests: AgentRunRequest[];
  let fetchedBeforeStore: boolean[];

  const channel: Channel = {
    name: "telegram",
    maxLength: 4096,
    send: async () => ({ ok: true, externalId: "x" }),
    async fetchMedia(ref, save) {
      const rows = await ctx.db.select({ status: messages.status }).from(messages);
      fetchedBeforeStore.push(rows.length === 0);
      if (ref.fileId === "huge") throw new Error("file is larger than 20 MB");
      const path = save(`photo-${ref.fileId}.jpg`, new TextEncoder().encode("jpeg"));
      return { kind: ref.kind, path, mimeType: "image/jpeg", sizeBytes: 4 };
    },
  };

  beforeEach(async () => {
    tc = await createTestContext({ clock: { now: () => Date.now() } });
    ctx = tc.ctx;
    requests = [];
    fetchedBeforeStore = [];
    const runner: AgentRunner = {
      run: async (req) => (
        requests.push(req), { kind: "ok", text: "Nice", sessionId: "s", durationMs: 1, exitCode: 0 }
      ),
    };
    conversation = createConversation(ctx, {
      channels: { byName: new Map<ChannelName, Channel>([["telegram", channel]]) },
      outbox: { enqueue: async () => [crypto.randomUUID()] },
      runner,
    });
    await conversation.dispatcher.start();
  });
  afterEach(async () => {
    await conversation.dispatcher.stop();
    await tc.cleanup();
  });

  test("a saved photo's path reaches the prompt and messages.media; a failed download is told to the agent", async () => {
    const t = await insertTenant(ctx, { telegram_chat_id: "1001" });
    await conversation.handleInbound(photo("abc", "our window"));
    await conversation.dispatcher.idle();
    await conversation.handleInbound(photo("huge", "the big one"));
    await conversation.dispatcher.idle();

    expect(fetchedBeforeStore).toEqual([false, false]); // every download after the message was stored
    expect(requests[0]!.prompt).toContain("inbox/photo-abc.jpg");
    expect(requests[1]!.prompt).toContain(
      "[The customer sent a photo that could not be downloaded: file is larger than 20 MB]",
    );
    expect(readdirSync(join(ctx.config.TENANTS_DIR, t.id, "inbox"))).toEqual(["photo-abc.jpg"]);
    const rows = await ctx.db
      .select({ media: messages.media, status: messages.status })
      .from(messages)
      .where(eq(messages.direction, "in"));
    expect(rows.map((r) => r.status)).toEqual(["done", "done"]);
    expect(JSON.parse(rows[0]!.media!)).toEqual([
      { kind: "photo", path: "inbox/photo-abc.jpg", mimeType: "image/jpeg", sizeBytes: 4 },
    ]);
    expect(JSON.parse(rows[1]!.media!)).toEqual([{ kind: "photo", error: "file is larger than 20 MB" }]);
    const timeline = readdirSync(join(ctx.config.TENANTS_DIR, t.id, "timeline"))
      .map((f) => readFileSync(join(ctx.config.TENANTS_DIR, t.id, "timeline", f), "utf8"))
      .join("");
    expect(timeline).toContain("📎 photo saved: inbox/photo-abc.jpg");
    expect(timeline).toContain("📎 photo not downloaded: file is larger than 20 MB");
  });
});
