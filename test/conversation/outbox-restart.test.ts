import { afterEach, describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { eq } from "drizzle-orm";
import type { Channel } from "../../src/channels/index.ts";
import type { OutboundMessage } from "../../src/channels/types.ts";
import { isoAt } from "../../src/clock.ts";
import type { Outbox } from "../../src/conversation/outbox.ts";
import { createOutbox } from "../../src/conversation/outbox.ts";
import { schema } from "../../src/db/index.ts";
import type { TestContext } from "../helpers/context.ts";
import { createTestContext } from "../helpers/context.ts";
import { eventually } from "../helpers/index.ts";

const CLAIM_MS = 60_000; // the outbox's default claim lease: what a restart no longer waits for

/** A channel that records every send. */
function recordingChannel(): Channel & { sent: OutboundMessage[] } {
  const sent: OutboundMessage[] = [];
  return {
    name: "telegram",
    maxLength: 4096,
    sent,
    async send(message) {
      sent.push(message);
      return { ok: true, externalId: `ext-${sent.length}` };
    },
  };
}

/** The pid of a process that was just killed with SIGKILL (as a server would be by kill -9). */
async function killedPid(): Promise<number> {
  const child = Bun.spawn(["sleep", "30"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  child.kill("SIGKILL");
  await child.exited;
  return child.pid;
}

let t: TestContext;
const outboxes: Outbox[] = [];
afterEach(async () => {
  for (const o of outboxes.splice(0)) await o.stop();
  await t?.cleanup();
});

/** Stores a reply as a sender would have claimed it just before dying: pending, attempt 1, claim lease running. */
async function claimedRow(owner: string, chatId: string, text: string): Promise<string> {
  const id = crypto.randomUUID();
  const now = Date.now();
  await t.ctx.db.insert(schema.messages).values({
    id,
    direction: "out",
    channel: "telegram",
    chat_id: chatId,
    kind: "chat",
    body: text,
    status: "pending",
    attempts: 1,
    lease_owner: owner,
    lease_expires_at: isoAt(now + CLAIM_MS),
    next_attempt_at: isoAt(now),
    created_at: isoAt(now),
  });
  return id;
}

const row = async (id: string) => (await t.ctx.db.select().from(schema.messages).where(eq(schema.messages.id, id)))[0];

async function startOutbox(channel: Channel, sweepMs = 60_000): Promise<Outbox> {
  const outbox = createOutbox(t.ctx, new Map([["telegram", channel]]), { baseBackoffMs: 20, sweepMs });
  outboxes.push(outbox);
  await outbox.start();
  return outbox;
}

describe("outbox after a kill -9", () => {
  test("replies claimed by a killed process on this host are sent at once by the restarted outbox, once each", async () => {
    t = await createTestContext();
    const dead = `${hostname()}:${await killedPid()}:0a1b2c3d4e5f`;
    const first = await claimedRow(dead, "100", "claimed, never sent");
    const second = await claimedRow(dead, "200", "also claimed");
    const channel = recordingChannel();
    const outbox = await startOutbox(channel);
    await eventually(async () => (await outbox.pendingCount()) === 0, "both replies sent and recorded");
    expect(Date.now()).toBeLessThan(Date.parse((await row(first))!.created_at) + CLAIM_MS); // not a lease expiry
    await Bun.sleep(50);
    expect(channel.sent.map((m) => m.text).sort()).toEqual(["also claimed", "claimed, never sent"]);
    for (const id of [first, second])
      expect(await row(id)).toMatchObject({ status: "sent", attempts: 2, lease_owner: null });
    expect(
      t.logs.some((l) => l.msg === "freed reply claims of a dead process; sending them now" && l.count === 2),
    ).toBe(true);
  });

  test("an earlier life of this very pid (container restart: same pid, new random part) counts as dead", async () => {
    t = await createTestContext();
    const id = await claimedRow(`${hostname()}:${process.pid}:ffffffffffff`, "300", "from my previous life");
    const channel = recordingChannel();
    await startOutbox(channel);
    await eventually(async () => (await row(id))?.status === "sent", "sent");
    expect(channel.sent).toHaveLength(1);
  });

  test("a sender that dies while this outbox runs is noticed on the next timer pass", async () => {
    t = await createTestContext();
    const channel = recordingChannel();
    await startOutbox(channel, 50);
    const id = await claimedRow(`${hostname()}:${await killedPid()}:0a1b2c3d4e5f`, "400", "neighbour died");
    await eventually(async () => (await row(id))?.status === "sent", "sent after the sweep freed it");
    expect(channel.sent.map((m) => m.text)).toEqual(["neighbour died"]);
  });

  test("claims of live processes and of other hosts wait for their lease", async () => {
    t = await createTestContext();
    const live = await claimedRow(`${hostname()}:${process.ppid}:0a1b2c3d4e5f`, "500", "parent is alive");
    const remote = await claimedRow(`another-host:${await killedPid()}:0a1b2c3d4e5f`, "600", "other machine");
    const legacy = await claimedRow("outbox-7d6f1c7e-0000-4000-8000-000000000000", "700", "old id format");
    const channel = recordingChannel();
    await startOutbox(channel, 20);
    await Bun.sleep(150); // several timer passes
    expect(channel.sent).toHaveLength(0);
    for (const id of [live, remote, legacy]) expect((await row(id))?.lease_owner).not.toBeNull();
  });
});
