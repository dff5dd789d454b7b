import { randomUUID } from "node:crypto";
import type { SQL } from "drizzle-orm";
import { and, eq, sql } from "drizzle-orm";
import type {
  Channel,
  ChannelName,
  OutboundFile,
  ReplyKeyboard,
  SendResult,
  WhatsAppTemplateSend,
} from "../channels/index.ts";
import { DEFAULT_MAX_LENGTH } from "../channels/index.ts";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import type { Db } from "../db/index.ts";
import { preparedPerDatabase, schema } from "../db/index.ts";
import { errorMessage } from "../errors.ts";
import type { Service } from "../ports.ts";
import { getTenant } from "../tenants/index.ts";
import type { StoredOutboundFile } from "./outbound-files.ts";
import { outboundFileOf, parseOutboundFile, spoolFile, sweepSpool } from "./outbound-files.ts";
import { isDeadLocalOwner, processOwnerId } from "./session-store.ts";
import { appendTimeline, quoteForTimeline } from "./timeline.ts";
import {
  OUTSIDE_WINDOW_ERROR,
  sendInWindow,
  TEMPLATE_VARIABLE_MAX_CHARS,
  whatsappSendMode,
} from "./whatsapp-window.ts";

/** A reply to deliver; `text` may be longer than the channel allows (it is split). */
export interface OutboundReply {
  tenantId: string | null;
  channel: ChannelName;
  chatId: string;
  text: string;
  /** The inbound message this answers (messages.reply_to). */
  replyTo?: string;
  /** Default "chat". */
  kind?: "chat" | "task" | "command" | "system";
  /** Telegram: a reply keyboard to show (or remove) with the reply; carried by its last chunk. */
  keyboard?: ReplyKeyboard;
}

/** A file to deliver (send_file): the bytes are copied to the server's spool at once. */
export interface OutboundFileReply {
  tenantId: string | null;
  channel: ChannelName;
  chatId: string;
  /** Shown under the file (may be empty). */
  caption: string;
  file: StoredOutboundFile;
  bytes: Uint8Array;
}

export interface OutboxOptions {
  /** How long a claimed row belongs to this sender before another may take it. Default 60 000 ms. */
  leaseMs?: number;
  /** A send that has not answered by then counts as a retryable failure. Default 45 000 ms (inside the lease). */
  sendTimeoutMs?: number;
  /** First retry delay when the platform gave no retry_after; doubles per attempt. Default 1 000 ms. */
  baseBackoffMs?: number;
  /** Longest retry delay. Default 300 000 ms. */
  maxBackoffMs?: number;
  /** Attempts before a retryable failure becomes `failed`. Default 12 (about half an hour of backoff). */
  maxAttempts?: number;
  /** Sends in flight at once (different chats; one chat is always sent in order). Default 4. */
  concurrency?: number;
  /** Safety sweep for rows written by other processes. Default 60 000 ms. */
  sweepMs?: number;
  /** This sender's claim owner id, "<host>:<pid>:<random>". Default: the process's id (processOwnerId()). */
  owner?: string;
  /**
   * Whether a claim's owner is certainly gone; its claims are freed at start and on every timer pass
   * (a restart resends at once instead of after `leaseMs`). Default: a process on this host that is
   * no longer running, or an earlier life of this pid (isDeadLocalOwner).
   */
  isOwnerDead?: (owner: string) => boolean;
}

/** The outbox: stores replies `pending`, sends them through their channel, retries, marks `sent`/`failed`. */
export interface Outbox extends Service {
  /**
   * Splits, stores every chunk `pending` (one insert), wakes the sender; resolves with the row ids in order.
   * A WhatsApp reply that will go as a template (outside the 24-hour window) is split to the template variable's limit.
   */
  enqueue(reply: OutboundReply): Promise<string[]>;
  /** Copies the file's bytes to the spool, stores one `pending` row (media = the file), wakes the sender; resolves with its id. */
  enqueueFile(reply: OutboundFileReply): Promise<string>;
  /** Looks for due rows now (after a retry time passed, or rows written elsewhere). */
  wake(): void;
  /** Replies stored but not yet sent or failed. */
  pendingCount(): Promise<number>;
  /** WhatsApp messages that failed in the last 24 h because the window was closed and no template was set. */
  outsideWindowFailures(): Promise<number>;
  /**
   * Calls `listener` each time a row becomes `failed` for good (after it is written); returns the undo.
   * The scheduler learns this way that a task's reply never went out (its task row says so).
   */
  onDeliveryFailed(listener: (failure: DeliveryFailure) => void): () => void;
}

/** An outbound row that failed for good. */
export interface DeliveryFailure {
  messageId: string;
  tenantId: string | null;
  error: string;
}

interface ClaimedRow {
  id: string;
  tenant_id: string | null;
  kind: string;
  media: string | null;
  channel: ChannelName;
  chat_id: string;
  body: string;
  attempts: number;
  reply_keyboard: ReplyKeyboard | null;
}

const { messages } = schema;

/** The statements of every reply, prepared once per database (see preparedPerDatabase). */
const outboxStatements = preparedPerDatabase((db) => {
  const p = sql.placeholder;
  return {
    /** One reply chunk, as enqueue builds it. */
    insertReply: db
      .insert(messages)
      .values({
        id: p("id"),
        tenant_id: p("tenant_id"),
        direction: p("direction"),
        channel: p("channel"),
        chat_id: p("chat_id"),
        kind: p("kind"),
        body: p("body"),
        status: p("status"),
        reply_to: p("reply_to"),
        reply_keyboard: p("reply_keyboard"),
        next_attempt_at: p("next_attempt_at"),
        created_at: p("created_at"),
      })
      .prepare(),
    markSent: db
      .update(messages)
      .set({
        status: "sent",
        external_id: sql`${p("externalId")}`,
        processed_at: sql`${p("now")}`,
        error: null,
        lease_owner: null,
        lease_expires_at: null,
        next_attempt_at: null,
      })
      .where(sql`${messages.id} = ${p("id")}`)
      .prepare(),
  };
});
const MIN_TIMER_MS = 10;
const DB_ERROR_RETRY_MS = 1_000;

/** Creates the outbox over the given channels (rows for a channel that is off stay `pending`). */
export function createOutbox(
  ctx: AppContext,
  channels: ReadonlyMap<ChannelName, Channel>,
  options: OutboxOptions = {},
): Outbox {
  const { db, clock } = ctx;
  const leaseMs = options.leaseMs ?? 60_000;
  const sendTimeoutMs = options.sendTimeoutMs ?? 45_000;
  const baseBackoffMs = options.baseBackoffMs ?? 1_000;
  const maxBackoffMs = options.maxBackoffMs ?? 300_000;
  const maxAttempts = options.maxAttempts ?? 12;
  const concurrency = options.concurrency ?? 4;
  const sweepMs = options.sweepMs ?? 60_000;
  const owner = options.owner ?? processOwnerId();
  const isOwnerDead = options.isOwnerDead ?? ((holder: string) => isDeadLocalOwner(holder, owner));
  const log = ctx.log.child({ component: "outbox" });

  let isRunning = false;
  let draining: Promise<void> | null = null;
  let isWakeRequested = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failureListeners = new Set<(failure: DeliveryFailure) => void>();

  const liveChannels = (): ChannelName[] => [...channels.keys()];

  /** One conditional UPDATE: the oldest due, unleased chat head (claimNextQuery). */
  async function claim(): Promise<ClaimedRow | null> {
    if (channels.size === 0) return null;
    const nowMs = clock.now();
    const rows = await db.all<ClaimedRow>(claimNextQuery(owner, isoAt(nowMs), isoAt(nowMs + leaseMs), liveChannels()));
    return rows[0] ?? null;
  }

  /** Sends a claimed row (its file too); on WhatsApp the 24-hour window decides how (sendInWindow). */
  async function sendRow(channel: Channel, row: ClaimedRow): Promise<SendResult> {
    const stored = parseOutboundFile(row.media);
    const file = stored ? outboundFileOf(ctx, row, stored) : undefined;
    if (row.channel !== "whatsapp") return sendWithTimeout(channel, row, sendTimeoutMs, { file });
    if (file && !file.url)
      return {
        ok: false,
        retryable: false,
        error:
          "whatsapp_file_needs_public_url: WhatsApp fetches files from a public URL; set PUBLIC_URL (and a server secret) to send files",
      };
    return sendInWindow(
      ctx,
      { messageId: row.id, tenantId: row.tenant_id, chatId: row.chat_id, text: row.body, hasFile: file !== undefined },
      (template) => sendWithTimeout(channel, row, sendTimeoutMs, { template, file }),
    );
  }

  /** The tenant's timeline says which message did not go out and why (a scheduled task's outcome included). */
  async function noteOutsideWindow(row: ClaimedRow): Promise<void> {
    const tenant = row.tenant_id ? await getTenant(db, row.tenant_id).catch(() => null) : null;
    if (!tenant) return;
    const what = row.kind === "task" ? "A scheduled task's message" : "A WhatsApp message";
    await appendTimeline(
      ctx,
      tenant,
      `✗ ${what} was not delivered (${OUTSIDE_WINDOW_ERROR}): the customer last wrote more than 24 h ago and no WhatsApp template is set: ${quoteForTimeline(row.body, 120)}`,
    );
  }

  async function deliver(row: ClaimedRow): Promise<void> {
    const channel = channels.get(row.channel);
    const result: SendResult = channel
      ? await sendRow(channel, row)
      : { ok: false, retryable: true, error: `channel ${row.channel} is off` };
    const fields = { messageId: row.id, channel: row.channel, chatId: row.chat_id, attempts: row.attempts };
    if (result.ok) {
      // The one write after the send: a crash before it is the only way a reply goes out twice,
      // so a failing write (a locked database) is tried again rather than left to the lease expiry.
      await withRetries(async () => {
        await outboxStatements(db).markSent.run({ id: row.id, externalId: result.externalId, now: isoAt(clock.now()) });
      });
      log.info("reply sent", { ...fields, externalId: result.externalId });
      return;
    }
    if (!result.retryable || row.attempts >= maxAttempts) {
      const error = result.retryable ? `gave up after ${row.attempts} attempts: ${result.error}` : result.error;
      await db
        .update(messages)
        .set({
          status: "failed",
          error,
          ...(result.errorCode ? { error_code: result.errorCode } : {}),
          processed_at: isoAt(clock.now()),
          lease_owner: null,
          lease_expires_at: null,
        })
        .where(and(eq(messages.id, row.id), eq(messages.status, "pending")));
      log.warn("reply failed", { ...fields, error });
      if (error === OUTSIDE_WINDOW_ERROR) await noteOutsideWindow(row);
      for (const listener of failureListeners) {
        try {
          listener({ messageId: row.id, tenantId: row.tenant_id, error });
        } catch (err) {
          log.error("delivery failure listener failed", { messageId: row.id, error: err });
        }
      }
      return;
    }
    const delayMs = result.retryAfterMs ?? Math.min(maxBackoffMs, baseBackoffMs * 2 ** (row.attempts - 1));
    await db
      .update(messages)
      .set({
        error: result.error,
        next_attempt_at: isoAt(clock.now() + delayMs),
        lease_owner: null,
        lease_expires_at: null,
      })
      .where(and(eq(messages.id, row.id), eq(messages.status, "pending")));
    ctx.metrics.outboxRetries.inc({ channel: row.channel });
    log.info("reply send will be retried", { ...fields, delayMs, error: result.error });
  }

  async function work(): Promise<void> {
    while (isRunning) {
      const row = await claim();
      if (!row) return;
      await deliver(row);
    }
  }

  async function drain(): Promise<void> {
    do {
      isWakeRequested = false;
      // allSettled: a failing worker must not leave the others running unseen by stop().
      const results = await Promise.allSettled(Array.from({ length: concurrency }, () => work()));
      const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failure) throw failure.reason;
    } while (isWakeRequested && isRunning);
  }

  /** Sleeps until the earliest retry time or lease expiry (or the sweep), never polling faster than needed. */
  async function scheduleNext(): Promise<void> {
    clearTimeout(timer);
    if (!isRunning) return;
    if (channels.size === 0) return;
    // Only the head row of each chat can be sent next; the rows behind it wait for it.
    const [next] = await db.all<{ at: string | null }>(nextDueQuery(liveChannels()));
    const dueInMs = next?.at ? Date.parse(next.at) - clock.now() : sweepMs;
    arm(Math.min(sweepMs, Math.max(MIN_TIMER_MS, dueInMs)));
  }

  function arm(delayMs: number): void {
    clearTimeout(timer);
    if (!isRunning) return;
    timer = setTimeout(sweep, delayMs);
    timer.unref?.();
  }

  /** Frees claims of dead senders (a cheap indexed query), then looks for due rows. */
  async function releaseDeadClaims(): Promise<void> {
    for (const { owner: holder, count } of await freeDeadClaims(db, clock.now(), isOwnerDead)) {
      log.warn("freed reply claims of a dead process; sending them now", { owner: holder, count });
    }
  }

  function sweep(): void {
    releaseDeadClaims()
      .catch((err: unknown) =>
        log.error("freeing dead claims failed", { error: err instanceof Error ? err : String(err) }),
      )
      .finally(wake);
  }

  function wake(): void {
    if (!isRunning) return;
    if (draining) {
      isWakeRequested = true;
      return;
    }
    draining = drain()
      .then(scheduleNext)
      .catch((err: unknown) => {
        log.error("outbox pass failed; retrying", { error: err instanceof Error ? err : String(err) });
        arm(DB_ERROR_RETRY_MS);
      })
      .finally(() => {
        draining = null;
        if (isWakeRequested) wake();
      });
  }

  async function pendingCount(): Promise<number> {
    const [row] = await db.all<{ n: number }>(
      sql`SELECT COUNT(*) AS n FROM messages WHERE direction = 'out' AND status = 'pending'`,
    );
    return Number(row?.n ?? 0);
  }

  async function outsideWindowFailures(): Promise<number> {
    const [row] = await db.all<{ n: number }>(
      sql`SELECT COUNT(*) AS n FROM messages WHERE direction = 'out' AND status = 'failed'
        AND error = ${OUTSIDE_WINDOW_ERROR} AND created_at >= ${isoAt(clock.now() - 24 * 3_600_000)}`,
    );
    return Number(row?.n ?? 0);
  }

  return {
    name: "outbox",
    outsideWindowFailures,
    onDeliveryFailed(listener) {
      failureListeners.add(listener);
      return () => failureListeners.delete(listener);
    },
    async enqueue(reply) {
      const channelMax = channels.get(reply.channel)?.maxLength ?? DEFAULT_MAX_LENGTH[reply.channel];
      // Outside the window each chunk becomes one template message: split to what its variable takes.
      const isTemplate =
        reply.channel === "whatsapp" &&
        (await whatsappSendMode(ctx, { tenantId: reply.tenantId, chatId: reply.chatId })).mode === "template";
      const maxLength = isTemplate ? Math.min(channelMax, TEMPLATE_VARIABLE_MAX_CHARS) : channelMax;
      const chunks = splitMessage(reply.text, maxLength);
      if (chunks.length === 0) return [];
      if (!channels.has(reply.channel))
        log.warn("reply stored for a channel that is off; it stays pending", { channel: reply.channel });
      const now = isoAt(clock.now());
      const rows = chunks.map((body, i) => ({
        id: randomUUID(),
        tenant_id: reply.tenantId,
        direction: "out" as const,
        channel: reply.channel,
        chat_id: reply.chatId,
        kind: reply.kind ?? "chat",
        body,
        status: "pending" as const,
        reply_to: reply.replyTo ?? null,
        reply_keyboard: i === chunks.length - 1 ? (reply.keyboard ?? null) : null,
        next_attempt_at: now,
        created_at: now,
      }));
      // One chunk (nearly every reply) through the prepared insert; several in one statement, all or none.
      if (rows.length === 1) await outboxStatements(db).insertReply.run(rows[0]!);
      else await db.insert(messages).values(rows);
      wake();
      return rows.map((r) => r.id);
    },
    async enqueueFile(reply) {
      const now = isoAt(clock.now());
      const id = randomUUID();
      spoolFile(ctx.config, id, reply.bytes);
      await db.insert(messages).values({
        id,
        tenant_id: reply.tenantId,
        direction: "out",
        channel: reply.channel,
        chat_id: reply.chatId,
        kind: "chat",
        body: reply.caption,
        media: JSON.stringify({ file: reply.file }),
        status: "pending",
        next_attempt_at: now,
        created_at: now,
      });
      wake();
      return id;
    },
    wake,
    pendingCount,
    async start() {
      isRunning = true;
      const removed = await sweepSpool(ctx).catch((err: unknown) => {
        log.warn("spool sweep failed", { error: errorMessage(err) });
        return 0;
      });
      if (removed > 0) log.info("removed sent files from the spool", { removed });
      await releaseDeadClaims();
      const pending = await pendingCount();
      if (pending > 0) log.info("outbox has pending replies from before; sending them", { pending });
      wake();
    },
    async stop() {
      isRunning = false;
      clearTimeout(timer);
      while (draining) await draining;
    },
  };
}

async function sendWithTimeout(
  channel: Channel,
  row: ClaimedRow,
  timeoutMs: number,
  extra: { template?: WhatsAppTemplateSend | undefined; file?: OutboundFile | undefined } = {},
): Promise<SendResult> {
  let timeout: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<SendResult>((resolve) => {
    timeout = setTimeout(
      () => resolve({ ok: false, retryable: true, error: `no answer from ${channel.name} within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      channel
        .send({
          channel: row.channel,
          chatId: row.chat_id,
          text: row.body,
          ...(row.reply_keyboard ? { keyboard: row.reply_keyboard } : {}),
          ...(extra.template ? { template: extra.template } : {}),
          ...(extra.file ? { file: extra.file } : {}),
        })
        .catch((err: unknown): SendResult => ({ ok: false, retryable: true, error: errorMessage(err) })),
      timedOut,
    ]);
  } finally {
    clearTimeout(timeout);
  }
}

/** Runs a database write, trying again twice (after 200 ms, then 1 s) before giving up. */
async function withRetries<T>(write: () => Promise<T>): Promise<T> {
  for (const delayMs of [200, 1_000]) {
    try {
      return await write();
    } catch {
      // Tried again below; the last attempt's error is the one that surfaces.
      await Bun.sleep(delayMs);
    }
  }
  return write();
}

/**
 * Frees pending replies still claimed by senders that `isOwnerDead` says are gone (a process on
 * this host killed mid-send), so a restart sends them at once instead of after the claim lease.
 * Each UPDATE is conditional on that owner still holding the row. Returns the freed rows per owner.
 */
export async function freeDeadClaims(
  db: Db,
  nowMs: number,
  isOwnerDead: (owner: string) => boolean,
): Promise<{ owner: string; count: number }[]> {
  const holders = await db.all<{ owner: string }>(sql`
    SELECT DISTINCT lease_owner AS owner FROM messages
    WHERE direction = 'out' AND status = 'pending' AND lease_owner IS NOT NULL AND lease_expires_at > ${isoAt(nowMs)}`);
  const freed: { owner: string; count: number }[] = [];
  for (const { owner } of holders) {
    if (!isOwnerDead(owner)) continue;
    const rows = await db
      .update(messages)
      .set({ lease_owner: null, lease_expires_at: null })
      .where(and(eq(messages.direction, "out"), eq(messages.status, "pending"), eq(messages.lease_owner, owner)))
      .returning({ id: messages.id });
    if (rows.length > 0) freed.push({ owner, count: rows.length });
  }
  return freed;
}

/**
 * The row ids of every chat's head: its oldest pending reply (by rowid) on one of `liveChannels`.
 * Only a head may be sent; the rows behind it wait for it (per-chat order). The pending rows are read
 * once through messages_outbox_idx and grouped, so the cost grows with the pending rows alone (one
 * index entry and one row lookup each), not with any chat's history as a per-row `NOT EXISTS` over
 * messages_rate_idx did (that was quadratic: every pending row walked its chat's stored messages).
 * INDEXED BY and `+h.channel` keep it so once the table has statistics (ANALYZE / PRAGMA optimize):
 * SQLite then may prefer walking messages_rate_idx whole to skip the GROUP BY's sort.
 */
function chatHeadRowids(liveChannels: readonly string[]): SQL {
  const names = sql.join(
    liveChannels.map((name) => sql`${name}`),
    sql`, `,
  );
  return sql`SELECT min(h.rowid) FROM messages h INDEXED BY messages_outbox_idx
    WHERE h.direction = 'out' AND h.status = 'pending' AND +h.channel IN (${names})
    GROUP BY h.channel, h.chat_id`;
}

/**
 * One conditional UPDATE claiming the oldest due, unleased chat head on a live channel for `owner`
 * until `leaseUntil`; RETURNING the claimed row (none when nothing is due). The outer conditions are
 * checked again on the row itself, so two senders on one database never both get it.
 * `liveChannels` must not be empty.
 */
export function claimNextQuery(owner: string, now: string, leaseUntil: string, liveChannels: readonly string[]): SQL {
  return sql`
    UPDATE messages SET lease_owner = ${owner}, lease_expires_at = ${leaseUntil}, attempts = attempts + 1
    WHERE id = (
      SELECT m.id FROM messages m
      WHERE m.rowid IN (${chatHeadRowids(liveChannels)})
        AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= ${now})
        AND (m.lease_expires_at IS NULL OR m.lease_expires_at <= ${now})
      ORDER BY m.rowid LIMIT 1)
    AND direction = 'out' AND status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= ${now})
    RETURNING id, tenant_id, kind, media, channel, chat_id, body, attempts, reply_keyboard`;
}

/**
 * The earliest time (ISO) a chat head on a live channel becomes claimable: its retry time, or its
 * lease expiry when that is later; NULL when nothing is pending. `liveChannels` must not be empty.
 */
export function nextDueQuery(liveChannels: readonly string[]): SQL {
  return sql`
    SELECT MIN(CASE WHEN m.lease_expires_at IS NOT NULL AND m.lease_expires_at > COALESCE(m.next_attempt_at, '')
                    THEN m.lease_expires_at ELSE m.next_attempt_at END) AS at
    FROM messages m
    WHERE m.rowid IN (${chatHeadRowids(liveChannels)})`;
}

/**
 * Splits a reply into chunks a channel accepts, preferring the most natural cut that keeps chunks
 * reasonably full: a paragraph break, then a line break, then the end of a sentence, then a space;
 * only text with no space at all is cut mid-word (never inside a UTF-16 surrogate pair).
 * Whitespace at the cut is dropped; an empty or blank text gives no chunks.
 */
export function splitMessage(text: string, maxLength: number): string[] {
  if (!Number.isInteger(maxLength) || maxLength < 1)
    throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
  const chunks: string[] = [];
  let rest = text.trim();
  while (rest.length > maxLength) {
    const cut = findCut(rest, maxLength);
    const chunk = rest.slice(0, cut).trimEnd();
    if (chunk.length > 0) chunks.push(chunk);
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0) chunks.push(rest);
  return chunks;
}

/** Paragraph and line cuts must keep at least this share of a full chunk (else a tiny chunk would go out). */
const MIN_FILL_FOR_LINES = 0.5;
/** Sentence cuts must keep at least this share. */
const MIN_FILL_FOR_SENTENCES = 0.3;

/** Index (exclusive end of the chunk) where text longer than maxLength is best cut. */
function findCut(text: string, maxLength: number): number {
  // The window includes one character past the limit so a break right after a full chunk counts.
  const window = text.slice(0, maxLength + 1);
  const lineFloor = Math.floor(maxLength * MIN_FILL_FOR_LINES);

  const paragraph = window.lastIndexOf("\n\n");
  if (paragraph >= lineFloor && paragraph > 0) return paragraph;
  const line = window.lastIndexOf("\n");
  if (line >= lineFloor && line > 0) return line;

  const sentence = lastSentenceEnd(window);
  if (sentence >= Math.floor(maxLength * MIN_FILL_FOR_SENTENCES) && sentence > 0 && sentence <= maxLength)
    return sentence;

  const space = lastWhitespace(window);
  if (space > 0) return space;

  // No break anywhere: a hard cut, moved back one if it would split a surrogate pair.
  const code = text.charCodeAt(maxLength - 1);
  return code >= 0xd800 && code <= 0xdbff && maxLength > 1 ? maxLength - 1 : maxLength;
}

/** End index (after the punctuation and closing quotes) of the last sentence followed by whitespace. */
function lastSentenceEnd(window: string): number {
  const pattern = /[.!?…。！？]["'”’)\]]*(?=\s)/g;
  let end = -1;
  for (let match = pattern.exec(window); match; match = pattern.exec(window)) end = match.index + match[0].length;
  return end;
}

function lastWhitespace(window: string): number {
  for (let i = window.length - 1; i > 0; i--) if (/\s/.test(window[i] ?? "")) return i;
  return -1;
}
