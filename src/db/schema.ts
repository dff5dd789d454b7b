import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Timestamps are ISO-8601 UTC text ("2026-11-26T08:16:38.123Z"): readable in the sqlite3 shell
// the runbook uses, and they sort and compare correctly as text.
const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const TENANT_STATUSES = ["ACTIVE", "ARCHIVED"] as const;
export const ONBOARDING_STATUSES = ["DISCOVERY", "BUILDING", "LIVE", "PAUSED"] as const;
export const CHANNELS = ["telegram", "whatsapp"] as const;
/** Channels a message can travel on: the two platforms plus the operator's terminal chat. */
export const MESSAGE_CHANNELS = ["telegram", "whatsapp", "console"] as const;
export const INBOUND_STATUSES = ["queued", "processing", "done", "failed", "rejected"] as const;
export const OUTBOUND_STATUSES = ["pending", "sent", "failed"] as const;
/** Reply keyboards a reply can carry: Telegram's "share my phone number" button, or removing it. */
export const REPLY_KEYBOARDS = ["request_contact", "remove"] as const;
/** What Twilio's status callbacks say happened to an outbound WhatsApp message, in the order they can only move forward. */
export const DELIVERY_STATUSES = ["delivered", "read", "undelivered", "failed"] as const;
export const TASK_STATUSES = ["PENDING", "RUNNING", "DONE", "FAILED", "CANCELLED"] as const;

export const tenants = sqliteTable(
  "tenants",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    phone_number: text("phone_number").notNull(),
    channel: text("channel", { enum: CHANNELS }).notNull(),
    telegram_chat_id: text("telegram_chat_id"),
    status: text("status", { enum: TENANT_STATUSES }).notNull().default("ACTIVE"),
    onboarding_status: text("onboarding_status", { enum: ONBOARDING_STATUSES }).notNull().default("DISCOVERY"),
    timezone: text("timezone").notNull().default("UTC"),
    business: text("business").notNull().default("{}"),
    /** The unprivileged host uid (and gid) this tenant's agent runs and tool checks use; allocated once, never shared. */
    uid: integer("uid"),
    /** The tenant's monthly model budget in USD; NULL = TENANT_MONTHLY_BUDGET_USD (or none). */
    monthly_budget_usd: real("monthly_budget_usd"),
    /** The instance that owns this tenant's workspace: only it runs the tenant's turns and tasks. */
    instance_id: text("instance_id"),
    created_at: text("created_at").notNull().default(now),
    updated_at: text("updated_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("tenants_phone_number_unique").on(t.phone_number),
    uniqueIndex("tenants_telegram_chat_id_unique").on(t.telegram_chat_id),
    uniqueIndex("tenants_uid_unique").on(t.uid),
    index("tenants_status_idx").on(t.status, t.onboarding_status),
    index("tenants_instance_idx").on(t.instance_id),
  ],
);

export const credentials = sqliteTable(
  "credentials",
  {
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    ciphertext: text("ciphertext").notNull(),
    iv: text("iv").notNull(),
    tag: text("tag").notNull(),
    key_version: text("key_version").notNull(),
    created_at: text("created_at").notNull().default(now),
    updated_at: text("updated_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.tenant_id, t.key] })],
);

export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id").references(() => tenants.id, { onDelete: "cascade" }),
    direction: text("direction", { enum: ["in", "out"] }).notNull(),
    channel: text("channel", { enum: MESSAGE_CHANNELS }).notNull(),
    chat_id: text("chat_id").notNull(),
    external_id: text("external_id"),
    /** What the message is: a chat turn, a scheduled task's prompt, or a command answer. */
    kind: text("kind", { enum: ["chat", "task", "command", "system"] })
      .notNull()
      .default("chat"),
    sender: text("sender"),
    body: text("body").notNull().default(""),
    media: text("media"),
    status: text("status", { enum: [...INBOUND_STATUSES, ...OUTBOUND_STATUSES] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    error: text("error"),
    /** in: the scheduled task this message carries; out: the inbound message it answers. */
    task_id: text("task_id"),
    reply_to: text("reply_to"),
    /** out: not before this time (retry backoff); and who is sending it until when. */
    next_attempt_at: text("next_attempt_at"),
    lease_owner: text("lease_owner"),
    lease_expires_at: text("lease_expires_at"),
    /** out, Telegram: the reply keyboard sent with this message (the linking flow's contact button, or its removal). */
    reply_keyboard: text("reply_keyboard", { enum: REPLY_KEYBOARDS }),
    /** in: stored by an instance without the tenant's workspace, so the owner still owes its timeline line. */
    timeline_owed: integer("timeline_owed", { mode: "boolean" }).notNull().default(false),
    /** out, WhatsApp: the newest status Twilio's callbacks reported, and its error code. */
    delivery_status: text("delivery_status", { enum: DELIVERY_STATUSES }),
    error_code: text("error_code"),
    created_at: text("created_at").notNull().default(now),
    processed_at: text("processed_at"),
  },
  (t) => [
    uniqueIndex("messages_channel_external_id_unique").on(t.channel, t.external_id).where(sql`direction = 'in'`),
    index("messages_tenant_status_idx").on(t.tenant_id, t.status, t.created_at),
    index("messages_tenant_created_idx").on(t.tenant_id, t.created_at),
    index("messages_outbox_idx").on(t.direction, t.status, t.next_attempt_at),
    index("messages_rate_idx").on(t.channel, t.chat_id, t.created_at),
  ],
);

export const conversationSessions = sqliteTable("conversation_sessions", {
  tenant_id: text("tenant_id")
    .primaryKey()
    .references(() => tenants.id, { onDelete: "cascade" }),
  agent_session_id: text("agent_session_id"),
  lease_owner: text("lease_owner"),
  lease_expires_at: text("lease_expires_at"),
  updated_at: text("updated_at").notNull().default(now),
});

export const scheduledTasks = sqliteTable(
  "scheduled_tasks",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    prompt: text("prompt").notNull(),
    cron: text("cron"),
    run_at: text("run_at"),
    timezone: text("timezone").notNull().default("UTC"),
    next_run_at: text("next_run_at"),
    status: text("status", { enum: TASK_STATUSES }).notNull().default("PENDING"),
    attempts: integer("attempts").notNull().default(0),
    last_error: text("last_error"),
    created_by: text("created_by", { enum: ["agent", "admin"] }).notNull(),
    /** A paused task stays PENDING but is not claimed. */
    paused: integer("paused", { mode: "boolean" }).notNull().default(false),
    /** The slot being run, and since when (a RUNNING task whose claim is older than the lease TTL is recovered). */
    slot_at: text("slot_at"),
    claimed_at: text("claimed_at"),
    last_run_at: text("last_run_at"),
    /** A missed recurring slot older than this many seconds is skipped, not caught up (0 = never catch up). */
    catch_up_window_s: integer("catch_up_window_s").notNull().default(3600),
    created_at: text("created_at").notNull().default(now),
    updated_at: text("updated_at").notNull().default(now),
  },
  (t) => [
    index("scheduled_tasks_due_idx").on(t.status, t.next_run_at),
    index("scheduled_tasks_tenant_idx").on(t.tenant_id, t.status),
  ],
);

/** Small key/value state that must survive restarts (e.g. the Telegram polling offset). */
export const appState = sqliteTable("app_state", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updated_at: text("updated_at").notNull().default(now),
});

/**
 * One-time Telegram deep-link codes (`https://t.me/<bot>?start=<code>`): only the sha256 of the code
 * is stored; one outstanding code per tenant (a new one replaces it); used up when a chat links with it.
 */
export const telegramLinkCodes = sqliteTable("telegram_link_codes", {
  code_hash: text("code_hash").primaryKey(),
  tenant_id: text("tenant_id")
    .notNull()
    .unique("telegram_link_codes_tenant_unique")
    .references(() => tenants.id, { onDelete: "cascade" }),
  expires_at: text("expires_at").notNull(),
  created_at: text("created_at").notNull().default(now),
});

/** One row per model request through the gateway: the tokens and cost of the answer, never its content. */
export const modelUsage = sqliteTable(
  "model_usage",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    run_id: text("run_id"),
    model: text("model").notNull(),
    input_tokens: integer("input_tokens").notNull().default(0),
    output_tokens: integer("output_tokens").notNull().default(0),
    cache_creation_input_tokens: integer("cache_creation_input_tokens").notNull().default(0),
    cache_read_input_tokens: integer("cache_read_input_tokens").notNull().default(0),
    cost_usd: real("cost_usd").notNull().default(0),
    /** The upstream HTTP status of the answer. */
    status: integer("status").notNull(),
    /** The calendar day in the tenant's time zone when the request was made (YYYY-MM-DD): months and budgets use it. */
    day: text("day").notNull(),
    created_at: text("created_at").notNull().default(now),
  },
  (t) => [index("model_usage_tenant_day_idx").on(t.tenant_id, t.day), index("model_usage_day_idx").on(t.day)],
);

/** The server processes sharing this database, with a heartbeat (an instance unseen for 60 s is down). */
export const instances = sqliteTable("instances", {
  id: text("id").primaryKey(),
  url: text("url"),
  version: text("version"),
  started_at: text("started_at").notNull().default(now),
  last_seen_at: text("last_seen_at").notNull().default(now),
});

export type TenantRow = typeof tenants.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type TaskRow = typeof scheduledTasks.$inferSelect;
export type SessionRow = typeof conversationSessions.$inferSelect;
export type CredentialRow = typeof credentials.$inferSelect;
export type ModelUsageRow = typeof modelUsage.$inferSelect;
export type InstanceRow = typeof instances.$inferSelect;
