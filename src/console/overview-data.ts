import { sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/index.ts";
import { monthDays } from "../usage/index.ts";
import { BUDGET_WARN_SHARE } from "./budget.ts";

/** Columns the overview table sorts by, and the SQL each sorts on (a fixed list: never user text in SQL). */
const SORT_COLUMNS = {
  name: "lower(name)",
  stage: "onboarding_status",
  status: "status",
  channel: "channel",
  last_message: "last_message_sort",
  queue: "queued + processing",
  failures: "failures_24h",
  spend: "spend_sort",
  created: "created_at",
} as const;
export type OverviewSort = keyof typeof SORT_COLUMNS;
export const OVERVIEW_SORTS = Object.keys(SORT_COLUMNS) as OverviewSort[];

/** The overview's query string, parsed (bad values fall back to the defaults: it is a page, not an API). */
export const overviewQuerySchema = z.object({
  q: z.string().trim().max(200).catch("").default(""),
  attention: z
    .enum(["1", "0"])
    .catch("0")
    .default("0")
    .transform((v) => v === "1"),
  sort: z
    .enum(OVERVIEW_SORTS as [OverviewSort, ...OverviewSort[]])
    .catch("name")
    .default("name"),
  dir: z.enum(["asc", "desc"]).catch("asc").default("asc"),
  page: z.coerce.number().int().min(1).max(100_000).catch(1).default(1),
});
export type OverviewQuery = z.infer<typeof overviewQuerySchema>;

/** Why a tenant needs the operator's attention. */
export type AttentionReason = "failures" | "stuck" | "unlinked" | "budget" | "credit_low";

export interface OverviewRow {
  id: string;
  name: string;
  phoneNumber: string;
  channel: "telegram" | "whatsapp";
  status: "ACTIVE" | "ARCHIVED";
  stage: "DISCOVERY" | "BUILDING" | "LIVE" | "PAUSED";
  isLinked: boolean;
  lastMessageAt: string | null;
  queued: number;
  processing: number;
  failures24h: number;
  spendUsd: number;
  budgetUsd: number | null;
  attention: AttentionReason[];
}

export interface OverviewPage {
  rows: OverviewRow[];
  /** Tenants matching the search (before the attention filter). */
  total: number;
  /** Of those, how many need attention. */
  attentionTotal: number;
  /** Rows the current filters match (what the pager pages through). */
  matching: number;
  page: number;
  pageSize: number;
}

export interface OverviewOptions {
  nowMs: number;
  /** YYYY-MM whose spend is shown. */
  month: string;
  /** TENANT_MONTHLY_BUDGET_USD (a tenant's own budget wins). */
  defaultBudgetUsd: number | null;
  /** The platform's model account is out of credit: every active tenant needs attention. */
  isCreditLow: boolean;
  /** Default 50. */
  pageSize?: number;
}

/** A queued message older than this means the tenant's queue is not moving. */
export const STUCK_QUEUE_MS = 15 * 60 * 1000;

interface RawRow {
  id: string;
  name: string;
  phone_number: string;
  channel: OverviewRow["channel"];
  status: OverviewRow["status"];
  onboarding_status: OverviewRow["stage"];
  telegram_chat_id: string | null;
  last_message_at: string | null;
  queued: number;
  processing: number;
  failures_24h: number;
  spend_usd: number;
  budget_usd: number | null;
  is_failing: number;
  is_stuck: number;
  is_unlinked: number;
  is_near_budget: number;
  total_all: number;
  total_attention: number;
}

/**
 * One page of the overview table in one query, however many tenants there are: each figure is one grouped
 * pass over only the rows that matter (queued/processing and failed messages through the outbox index, failed
 * tasks, this month's model_usage through its day index) joined to the tenants; filters, counts (window
 * functions), sort and paging run in the database; the last message time is an index seek per row of the page.
 */
export async function loadOverview(db: Db, query: OverviewQuery, options: OverviewOptions): Promise<OverviewPage> {
  const pageSize = options.pageSize ?? 50;
  const now = new Date(options.nowMs).toISOString();
  const since = new Date(options.nowMs - 24 * 60 * 60 * 1000).toISOString();
  const stuckBefore = new Date(options.nowMs - STUCK_QUEUE_MS).toISOString();
  const { from, to } = monthDays(options.month);
  const pattern = `%${query.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  const search = query.q
    ? sql`WHERE (tn.name LIKE ${pattern} ESCAPE '\\' OR tn.phone_number LIKE ${pattern} ESCAPE '\\' OR tn.id LIKE ${pattern} ESCAPE '\\')`
    : sql``;
  const creditLow = options.isCreditLow ? 1 : 0;
  const order = sql.raw(`${SORT_COLUMNS[query.sort]} ${query.dir === "desc" ? "DESC" : "ASC"}, lower(name), id`);
  // This month's spend of every tenant is needed only to sort by it or to compare it with a budget; else it is
  // read for the page's rows alone.
  const withSpend = query.sort === "spend" || (await hasAnyBudget(db, options.defaultBudgetUsd));
  const lastMessage = sql`(SELECT max(m.created_at) FROM messages m WHERE m.tenant_id = tn.id)`;
  const rows = await db.all<RawRow>(sql`
    WITH t AS (
      SELECT tn.id, tn.name, tn.phone_number, tn.channel, tn.status, tn.onboarding_status, tn.telegram_chat_id,
        tn.created_at,
        ${query.sort === "last_message" ? lastMessage : sql`NULL`} AS last_message_sort,
        coalesce(qp.queued, 0) AS queued,
        coalesce(qp.processing, 0) AS processing,
        qp.oldest_queued_at,
        coalesce(fm.n, 0) + coalesce(ft.n, 0) AS failures_24h,
        ${withSpend ? sql`coalesce(u.spend, 0)` : sql`NULL`} AS spend_sort,
        coalesce(tn.monthly_budget_usd, ${options.defaultBudgetUsd}) AS budget_usd,
        cs.lease_expires_at
      FROM tenants tn
      LEFT JOIN conversation_sessions cs ON cs.tenant_id = tn.id
      LEFT JOIN (
        SELECT tenant_id, sum(status = 'queued') AS queued, sum(status = 'processing') AS processing,
          min(CASE WHEN status = 'queued' THEN created_at END) AS oldest_queued_at
        FROM messages WHERE direction = 'in' AND status IN ('queued', 'processing') GROUP BY tenant_id
      ) qp ON qp.tenant_id = tn.id
      LEFT JOIN (
        SELECT tenant_id, count(*) AS n FROM messages
        WHERE direction IN ('in', 'out') AND status = 'failed' AND created_at >= ${since} GROUP BY tenant_id
      ) fm ON fm.tenant_id = tn.id
      LEFT JOIN (
        SELECT tenant_id, count(*) AS n FROM scheduled_tasks
        WHERE status = 'FAILED' AND updated_at >= ${since} GROUP BY tenant_id
      ) ft ON ft.tenant_id = tn.id
      ${
        withSpend
          ? sql`LEFT JOIN (
        SELECT tenant_id, sum(cost_usd) AS spend FROM model_usage WHERE day >= ${from} AND day < ${to} GROUP BY tenant_id
      ) u ON u.tenant_id = tn.id`
          : sql``
      }
      ${search}
    ),
    a AS (
      SELECT t.*,
        failures_24h > 0 AS is_failing,
        (processing > 0 AND (lease_expires_at IS NULL OR lease_expires_at < ${now}))
          OR coalesce(oldest_queued_at < ${stuckBefore}, 0) AS is_stuck,
        channel = 'telegram' AND telegram_chat_id IS NULL AND status = 'ACTIVE' AS is_unlinked,
        coalesce(budget_usd > 0 AND spend_sort >= budget_usd * ${BUDGET_WARN_SHARE}, 0) AS is_near_budget
      FROM t
    ),
    b AS (
      SELECT a.*,
        (is_failing OR is_stuck OR is_unlinked OR is_near_budget OR (${creditLow} AND status = 'ACTIVE')) AS needs_attention
      FROM a
    ),
    c AS (
      SELECT b.*, count(*) OVER () AS total_all, sum(needs_attention) OVER () AS total_attention FROM b
    ),
    page AS (
      SELECT c.* FROM c
      WHERE ${query.attention ? 1 : 0} = 0 OR needs_attention
      ORDER BY ${order}
      LIMIT ${pageSize} OFFSET ${(query.page - 1) * pageSize}
    )
    -- The last message is read for the page's rows only (an index seek each), unless the page is sorted by it.
    SELECT page.*, coalesce(page.last_message_sort, (SELECT max(m.created_at) FROM messages m WHERE m.tenant_id = page.id))
      AS last_message_at,
      coalesce(page.spend_sort, (SELECT sum(u.cost_usd) FROM model_usage u
        WHERE u.tenant_id = page.id AND u.day >= ${from} AND u.day < ${to}), 0) AS spend_usd
    FROM page ORDER BY ${order}
  `);
  const first = rows[0];
  const counts = first
    ? {
        total: first.total_all,
        attentionTotal: first.total_attention ?? 0,
        matching: query.attention ? (first.total_attention ?? 0) : first.total_all,
      }
    : await countOnly(db, query, options);
  return { rows: rows.map((r) => toRow(r, options.isCreditLow)), ...counts, page: query.page, pageSize };
}

async function hasAnyBudget(db: Db, defaultBudgetUsd: number | null): Promise<boolean> {
  if (defaultBudgetUsd !== null) return true;
  const [row] = await db.all<{ n: number }>(
    sql`SELECT count(*) AS n FROM (SELECT 1 FROM tenants WHERE monthly_budget_usd IS NOT NULL LIMIT 1)`,
  );
  return (row?.n ?? 0) > 0;
}

/** Counts when the page came back empty (past the last page, or nothing matches). */
async function countOnly(
  db: Db,
  query: OverviewQuery,
  options: OverviewOptions,
): Promise<{ total: number; attentionTotal: number; matching: number }> {
  if (query.page === 1) {
    const [all] = await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM tenants`);
    return { total: all?.n ?? 0, attentionTotal: 0, matching: 0 };
  }
  const firstPage = await loadOverview(db, { ...query, page: 1 }, options);
  return { total: firstPage.total, attentionTotal: firstPage.attentionTotal, matching: firstPage.matching };
}

function toRow(r: RawRow, isCreditLow: boolean): OverviewRow {
  const attention: AttentionReason[] = [];
  if (r.is_failing) attention.push("failures");
  if (r.is_stuck) attention.push("stuck");
  if (r.is_unlinked) attention.push("unlinked");
  if (r.is_near_budget) attention.push("budget");
  if (isCreditLow && r.status === "ACTIVE") attention.push("credit_low");
  return {
    id: r.id,
    name: r.name,
    phoneNumber: r.phone_number,
    channel: r.channel,
    status: r.status,
    stage: r.onboarding_status,
    isLinked: r.channel === "whatsapp" || r.telegram_chat_id !== null,
    lastMessageAt: r.last_message_at,
    queued: Number(r.queued),
    processing: Number(r.processing),
    failures24h: Number(r.failures_24h),
    spendUsd: Number(r.spend_usd),
    budgetUsd: r.budget_usd === null ? null : Number(r.budget_usd),
    attention,
  };
}
