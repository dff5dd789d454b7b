import type { AppContext } from "../context.ts";
import type { MessageCursor, SessionState } from "../conversation/index.ts";
import { getSessionState, listMessagePage, readTimelineDay } from "../conversation/index.ts";
import type { CredentialSummary } from "../credentials/index.ts";
import { listCredentials } from "../credentials/index.ts";
import type { MessageRow } from "../db/index.ts";
import type { Task } from "../scheduler/index.ts";
import { listTasks } from "../scheduler/index.ts";
import type { Tenant } from "../tenants/index.ts";
import { linkCodeStatus } from "../tenants/index.ts";
import { tenantUsageByDay, type UsageTotals } from "../usage/index.ts";
import { monthlyBudgetUsd } from "./budget.ts";

/** Messages per page on the tenant page. */
export const MESSAGES_PER_PAGE = 25;

export interface TenantView {
  tenant: Tenant;
  /** tenants.monthly_budget_usd ?? TENANT_MONTHLY_BUDGET_USD. */
  budgetUsd: number | null;
  /** An unused Telegram link code is outstanding until this time. */
  linkCodeExpiresAt: string | null;
  messages: MessageRow[];
  /** Cursor of the next (older) page, null at the end. */
  nextBefore: string | null;
  tasks: Task[];
  credentials: CredentialSummary[];
  session: SessionState | null;
  /** Whether the lease is held now (lease_expires_at in the future). */
  isLeaseHeld: boolean;
  month: string;
  usageByDay: ({ day: string } & UsageTotals)[];
  monthSpendUsd: number;
  /** Today's timeline (the tenant's local day), newest line first. */
  timeline: { date: string; lines: string[]; problem?: string };
}

/** Everything the tenant page shows, read through the modules' own functions (the tenant is already loaded). */
export async function loadTenantView(
  ctx: AppContext,
  tenant: Tenant,
  options: { month: string; before?: MessageCursor; tenantBudgetUsd: number | null },
): Promise<TenantView> {
  const nowMs = ctx.clock.now();
  const [page, tasks, credentials, session, link, usageByDay] = await Promise.all([
    listMessagePage(ctx.db, {
      tenantId: tenant.id,
      limit: MESSAGES_PER_PAGE,
      ...(options.before ? { before: options.before } : {}),
    }),
    listTasks(ctx.db, { tenantId: tenant.id, limit: 200 }),
    listCredentials(ctx, tenant.id),
    getSessionState(ctx.db, tenant.id),
    tenant.channel === "telegram" && tenant.telegram_chat_id === null
      ? linkCodeStatus(ctx.db, tenant.id, nowMs)
      : Promise.resolve(null),
    tenantUsageByDay(ctx.db, tenant.id, options.month),
  ]);
  const days = usageByDay.map((d) => ({ ...d, costUsd: Number(d.costUsd), requests: Number(d.requests) }));
  return {
    tenant,
    budgetUsd: monthlyBudgetUsd(options.tenantBudgetUsd, ctx.config),
    linkCodeExpiresAt: link?.expires_at ?? null,
    messages: page.messages,
    nextBefore: page.nextBefore,
    tasks,
    credentials,
    session,
    isLeaseHeld: session?.lease_expires_at ? Date.parse(session.lease_expires_at) > nowMs : false,
    month: options.month,
    usageByDay: days,
    monthSpendUsd: days.reduce((sum, d) => sum + d.costUsd, 0),
    timeline: readTimelineDay(ctx, tenant, nowMs),
  };
}
