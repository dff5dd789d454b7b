import { eq, sql } from "drizzle-orm";
import type { Channel, ChannelName, InboundHandler, InboundMessage } from "../channels/types.ts";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import type { Db, MessageRow } from "../db/index.ts";
import { preparedPerDatabase } from "../db/index.ts";
import { messages } from "../db/schema.ts";
import { isOwnedHere } from "../instances/index.ts";
import type { InboundOutcome } from "../metrics/index.ts";
import type { Tenant } from "../tenants/index.ts";
import { findTenantByChatId, findTenantByPhone, getTenant, servingRefusal } from "../tenants/index.ts";
import type { ChatCommand } from "./chat-commands.ts";
import {
  ARCHIVED_REPLY,
  decideCommand,
  PAUSED_REPLY,
  parseChatCommand,
  SLOW_DOWN_REPLY,
  TOO_MANY_LINK_ATTEMPTS_REPLY,
  unknownChatReply,
} from "./chat-commands.ts";
import { pendingMedia } from "./inbound-media.ts";
import { inboundTimelineLine } from "./inbound-timeline.ts";
import type { OutboundReply } from "./outbox.ts";
import { appendTimelineSoon, quoteForTimeline } from "./timeline.ts";

/** What the pipeline needs from the rest of the engine. */
export interface PipelineDeps {
  /** Stores and sends replies (the outbox). */
  outbox: { enqueue(reply: OutboundReply): Promise<string[]> };
  /** Channels by name. */
  channels: ReadonlyMap<ChannelName, Channel>;
  /** Wakes the dispatcher after a message is queued for this tenant (one this instance owns). */
  wake(tenantId: string): void;
}

const WINDOW_MS = 60_000;
/** Link attempts (`/start …`, shared contacts) an unlinked chat may make per hour. */
export const LINK_ATTEMPTS_PER_HOUR = 5;
const LINK_WINDOW_MS = 3_600_000;

/**
 * Creates handleInbound, which runs every step before the webhook answers: drop duplicates,
 * answer /start /reset /help and an unlinked chat's shared contact (linking), resolve the tenant, rate-limit, refuse paused/archived tenants,
 * store the message `queued` (its media as references pending download: the turn fetches them)
 * and wake the dispatcher.
 */
export function createInboundPipeline(ctx: AppContext, deps: PipelineDeps): InboundHandler {
  const log = ctx.log.child({ component: "pipeline" });

  /** proxystaff_inbound_messages_total: queued, duplicate, command, unknown_chat, rate_limited, paused, archived. */
  const count = (msg: InboundMessage, outcome: InboundOutcome) =>
    ctx.metrics.inbound.inc({ channel: msg.channel, outcome });

  /** Stores the row (false: a duplicate, nothing else may happen) and sends a reply to it if given. */
  async function store(
    msg: InboundMessage,
    row: {
      id: string;
      tenantId: string | null;
      kind: "chat" | "command";
      status: "queued" | "done" | "rejected";
      error?: string;
      media?: string;
      /** Stored for a tenant whose workspace is on another instance: the owner writes its timeline line. */
      isTimelineOwed?: boolean;
    },
  ): Promise<boolean> {
    const createdAt = isoAt(ctx.clock.now());
    const inserted = await insertChannelMessage(ctx.db, {
      id: row.id,
      tenant_id: row.tenantId,
      channel: msg.channel,
      chat_id: msg.chatId,
      external_id: msg.externalId,
      kind: row.kind,
      sender: msg.senderName ?? msg.senderPhone ?? null,
      body: msg.text,
      media: row.media ?? null,
      status: row.status,
      error: row.error ?? null,
      created_at: createdAt,
      processed_at: row.status === "queued" ? null : createdAt,
      timeline_owed: row.isTimelineOwed === true,
    });
    if (!inserted) {
      count(msg, "duplicate");
      log.info("duplicate delivery dropped", { channel: msg.channel, externalId: msg.externalId });
    }
    return inserted;
  }

  /** Hands a reply to the outbox. The message is already stored: a failure here is logged, not thrown (a redelivery would be dropped as a duplicate anyway). */
  async function reply(
    msg: InboundMessage,
    tenantId: string | null,
    replyTo: string,
    text: string,
    kind: "command" | "system",
    keyboard?: OutboundReply["keyboard"],
  ): Promise<void> {
    try {
      await deps.outbox.enqueue({
        tenantId,
        channel: msg.channel,
        chatId: msg.chatId,
        text,
        replyTo,
        kind,
        ...(keyboard ? { keyboard } : {}),
      });
    } catch (err) {
      log.error("reply not stored", { tenantId, channel: msg.channel, chatId: msg.chatId, replyTo, error: err });
    }
  }

  /** Sliding window over stored rows: over the limit, and whether the sender was already told this minute. */
  async function rateCheck(subject: RateSubject): Promise<{ isOver: boolean; wasTold: boolean }> {
    const since = isoAt(ctx.clock.now() - WINDOW_MS);
    const { counted, rateLimited } = await countRecentInbound(ctx.db, subject, since);
    return { isOver: counted >= ctx.config.RATE_LIMIT_PER_MINUTE, wasTold: rateLimited > 0 };
  }

  async function refuseForRate(
    msg: InboundMessage,
    tenant: Tenant | null,
    id: string,
    wasTold: boolean,
  ): Promise<void> {
    if (
      !(await store(msg, { id, tenantId: tenant?.id ?? null, kind: "chat", status: "rejected", error: "rate_limited" }))
    )
      return;
    count(msg, "rate_limited");
    log.warn("rate limit: message refused", {
      tenantId: tenant?.id,
      channel: msg.channel,
      chatId: msg.chatId,
      isReplySent: !wasTold,
    });
    if (!wasTold) {
      await reply(msg, tenant?.id ?? null, id, SLOW_DOWN_REPLY, "system");
      if (tenant)
        void appendTimelineSoon(
          ctx,
          tenant,
          `⊘ over the rate limit (${ctx.config.RATE_LIMIT_PER_MINUTE}/min): messages refused for a minute`,
        );
    }
  }

  async function resolveTenant(msg: InboundMessage): Promise<Tenant | null> {
    switch (msg.channel) {
      case "telegram": {
        const tenant = await findTenantByChatId(ctx.db, msg.chatId);
        // A WhatsApp tenant is never reached from Telegram, even with a chat id left by an older build's /start takeover.
        return tenant && tenant.channel === "telegram" ? tenant : null;
      }
      case "whatsapp": {
        if (!msg.senderPhone) return null;
        const tenant = await findTenantByPhone(ctx.db, msg.senderPhone);
        // WhatsApp links by the sender's number: the tenant registered with that phone on WhatsApp.
        return tenant && tenant.channel === "whatsapp" ? tenant : null;
      }
      case "console":
        return getTenant(ctx.db, msg.chatId);
    }
  }

  /** An unlinked chat's link attempts are counted over an hour; past the limit each gets the same short refusal. */
  async function isOverLinkAttempts(
    msg: InboundMessage,
    tenant: Tenant | null,
    command: ChatCommand,
  ): Promise<boolean> {
    if (tenant || msg.channel !== "telegram" || (command.name !== "start" && command.name !== "contact")) return false;
    const attempts = await countRecentLinkAttempts(
      ctx.db,
      msg.channel,
      msg.chatId,
      isoAt(ctx.clock.now() - LINK_WINDOW_MS),
    );
    return attempts >= LINK_ATTEMPTS_PER_HOUR;
  }

  async function handleCommand(
    msg: InboundMessage,
    tenant: Tenant | null,
    id: string,
    command: ChatCommand,
  ): Promise<void> {
    const rate = await rateCheck({ channel: msg.channel, chatId: msg.chatId });
    if (rate.isOver) return refuseForRate(msg, tenant, id, rate.wasTold);
    if (await isOverLinkAttempts(msg, tenant, command)) {
      if (!(await store(msg, { id, tenantId: null, kind: "command", status: "rejected", error: "link_rate_limited" })))
        return;
      count(msg, "rate_limited");
      log.warn("link attempts over the limit: refused", {
        channel: msg.channel,
        chatId: msg.chatId,
        limitPerHour: LINK_ATTEMPTS_PER_HOUR,
      });
      await reply(msg, null, id, TOO_MANY_LINK_ATTEMPTS_REPLY, "system");
      return;
    }
    const decided = await decideCommand(ctx, command, msg, tenant);
    const row = {
      id,
      tenantId: decided.tenantId,
      kind: "command" as const,
      status: decided.status,
      error: decided.error,
    };
    if (!(await store(msg, row))) return;
    count(msg, "command");
    const changed = (await decided.apply?.()) ?? undefined;
    const final = changed ?? decided;
    if (changed) {
      await ctx.db
        .update(messages)
        .set({ tenant_id: changed.tenantId, status: changed.status, error: changed.error ?? null })
        .where(eq(messages.id, id));
    }
    log.info("command handled", {
      command: command.name,
      tenantId: final.tenantId,
      channel: msg.channel,
      status: final.status,
      error: final.error,
    });
    await reply(msg, final.tenantId, id, final.reply, "command", final.keyboard);
  }

  /** A slash command, or a contact card shared in an unlinked Telegram chat (a linked chat's contact goes to the agent). */
  function commandOf(msg: InboundMessage, tenant: Tenant | null): ChatCommand | null {
    const command = parseChatCommand(msg.text);
    if (command) return command;
    return msg.channel === "telegram" && msg.contact && !tenant ? { name: "contact", contact: msg.contact } : null;
  }

  // No separate duplicate check: every path stores the row before anything else happens (replies,
  // command effects, the wake), and the store is INSERT … ON CONFLICT DO NOTHING on the dedupe key, so
  // a redelivery stops there — one statement less for every message that is not a duplicate.
  return async function handleInbound(msg: InboundMessage): Promise<void> {
    const id = crypto.randomUUID();
    const tenant = await resolveTenant(msg);
    const command = commandOf(msg, tenant);
    if (command) return handleCommand(msg, tenant, id, command);

    if (!tenant) {
      const rate = await rateCheck({ channel: msg.channel, chatId: msg.chatId });
      if (rate.isOver) return refuseForRate(msg, null, id, rate.wasTold);
      if (!(await store(msg, { id, tenantId: null, kind: "chat", status: "rejected", error: "unknown_chat" }))) return;
      count(msg, "unknown_chat");
      log.info("message from an unknown chat", { channel: msg.channel, chatId: msg.chatId });
      await reply(msg, null, id, unknownChatReply(msg.channel), "system");
      return;
    }

    const rate = await rateCheck({ tenantId: tenant.id });
    if (rate.isOver) return refuseForRate(msg, tenant, id, rate.wasTold);

    const refusal = servingRefusal(tenant);
    if (refusal) {
      if (!(await store(msg, { id, tenantId: tenant.id, kind: "chat", status: "rejected", error: refusal }))) return;
      count(msg, refusal === "tenant_paused" ? "paused" : "archived");
      void appendTimelineSoon(
        ctx,
        tenant,
        `⊘ ${refusal === "tenant_paused" ? "paused" : "archived"}, not read: ${quoteForTimeline(msg.text)}`,
      );
      await reply(msg, tenant.id, id, refusal === "tenant_paused" ? PAUSED_REPLY : ARCHIVED_REPLY, "system");
      return;
    }

    // Media is only referenced here (the webhook answers in milliseconds); the turn downloads it before the run.
    const media = pendingMedia(msg.media);
    // Another instance holds the workspace: the line is written there when it takes the message (writeOwedInboundLines).
    const isTimelineOwed = !isOwnedHere(ctx.config, tenant);
    const row = {
      id,
      tenantId: tenant.id,
      kind: "chat" as const,
      status: "queued" as const,
      media: media.length > 0 ? JSON.stringify(media) : undefined,
      isTimelineOwed,
    };
    if (!(await store(msg, row))) return;
    count(msg, "queued");
    log.info("message queued", { tenantId: tenant.id, messageId: id, channel: msg.channel, media: media.length });
    // The owner takes it: here at once; another instance learns of it by its poll (remote-wake.ts).
    if (isTimelineOwed) return;
    deps.wake(tenant.id);
    void appendTimelineSoon(
      ctx,
      tenant,
      inboundTimelineLine({
        sender: msg.senderName ?? msg.senderPhone ?? null,
        channel: msg.channel,
        body: msg.text,
        mediaKinds: media.map((m) => m.kind),
      }),
    );
  };
}

// The inbound pipeline's statements, prepared once per database: every webhook delivery runs them, and
// building the query in drizzle plus preparing it in SQLite each time cost about as much as running it
// (bun:sqlite: INSERT 128 → 64 µs, rate count 33 → 8 µs). `.prepare()` works on both drivers.

/** The row the pipeline stores for a channel message (direction `in`). */
export interface ChannelMessageRow {
  id: string;
  tenant_id: string | null;
  channel: MessageRow["channel"];
  chat_id: string;
  /** The dedupe key: unique per channel among inbound rows. */
  external_id: string;
  kind: "chat" | "command";
  sender: string | null;
  body: string;
  media: string | null;
  status: "queued" | "done" | "rejected";
  error: string | null;
  created_at: string;
  processed_at: string | null;
  /** The tenant's owner still owes the message's timeline line (writeOwedInboundLines). */
  timeline_owed: boolean;
}

/** Who a rate-limit window counts: a known tenant (its phone number, across channels) or one chat. */
export type RateSubject = { tenantId: string } | { channel: MessageRow["channel"]; chatId: string };

const p = sql.placeholder;

function prepareStatements(db: Db) {
  const insert = db
    .insert(messages)
    .values({
      id: p("id"),
      tenant_id: p("tenant_id"),
      direction: "in",
      channel: p("channel"),
      chat_id: p("chat_id"),
      external_id: p("external_id"),
      kind: p("kind"),
      sender: p("sender"),
      body: p("body"),
      media: p("media"),
      status: p("status"),
      error: p("error"),
      created_at: p("created_at"),
      processed_at: p("processed_at"),
      timeline_owed: p("timeline_owed"),
    })
    .onConflictDoNothing()
    .returning({ id: messages.id })
    .prepare();
  const countSince = (subject: ReturnType<typeof sql>) =>
    db
      .select({
        counted: sql<number>`coalesce(sum(CASE WHEN ${messages.error} IS NOT 'rate_limited' THEN 1 ELSE 0 END), 0)`,
        rateLimited: sql<number>`coalesce(sum(CASE WHEN ${messages.error} = 'rate_limited' THEN 1 ELSE 0 END), 0)`,
      })
      .from(messages)
      .where(
        sql`${messages.direction} = 'in' AND ${messages.kind} IN ('chat', 'command') AND ${messages.created_at} > ${p("since")} AND ${subject}`,
      )
      .prepare();
  // A link attempt is a /start (with a phone or a code) or a shared contact card from the chat.
  const countLinkAttempts = db
    .select({ n: sql<number>`count(*)` })
    .from(messages)
    .where(
      sql`${messages.direction} = 'in' AND ${messages.channel} = ${p("channel")} AND ${messages.chat_id} = ${p("chatId")} AND ${messages.created_at} > ${p("since")}
        AND ${messages.kind} = 'command' AND (${messages.body} LIKE '/start%' OR ${messages.body} LIKE '[contact%')`,
    )
    .prepare();
  return {
    insert,
    countLinkAttempts,
    countForTenant: countSince(sql`${messages.tenant_id} = ${p("tenantId")}`),
    countForChat: countSince(sql`${messages.channel} = ${p("channel")} AND ${messages.chat_id} = ${p("chatId")}`),
  };
}

const statements = preparedPerDatabase(prepareStatements);

/**
 * Stores a channel message unless (channel, external_id) is already stored: the unique index decides
 * (INSERT … ON CONFLICT DO NOTHING), so two concurrent deliveries of one update store it once and no
 * separate duplicate check is needed. Returns false for a duplicate.
 */
export async function insertChannelMessage(db: Db, row: ChannelMessageRow): Promise<boolean> {
  const inserted = await statements(db).insert.all({ ...row });
  return inserted.length > 0;
}

/**
 * Counts the subject's inbound messages (chat turns and commands, not scheduled tasks) since
 * `sinceIso`: those that counted against the limit (anything not refused for the limit itself),
 * and those refused for the limit. Read from the table, so every process agrees.
 */
export async function countRecentInbound(
  db: Db,
  subject: RateSubject,
  sinceIso: string,
): Promise<{ counted: number; rateLimited: number }> {
  const { countForTenant, countForChat } = statements(db);
  const rows =
    "tenantId" in subject
      ? await countForTenant.all({ since: sinceIso, tenantId: subject.tenantId })
      : await countForChat.all({ since: sinceIso, channel: subject.channel, chatId: subject.chatId });
  const row = rows[0];
  return { counted: Number(row?.counted ?? 0), rateLimited: Number(row?.rateLimited ?? 0) };
}

/** How many link attempts (`/start …` and shared contacts, stored as command rows) the chat made since `sinceIso`. */
export async function countRecentLinkAttempts(
  db: Db,
  channel: MessageRow["channel"],
  chatId: string,
  sinceIso: string,
): Promise<number> {
  const rows = await statements(db).countLinkAttempts.all({ channel, chatId, since: sinceIso });
  return Number(rows[0]?.n ?? 0);
}
