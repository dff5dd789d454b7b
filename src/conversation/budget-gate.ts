import type { ChannelName } from "../channels/types.ts";
import type { AppContext } from "../context.ts";
import type { MessageRow } from "../db/index.ts";
import type { Tenant } from "../tenants/index.ts";
import { BUDGET_EXCEEDED, budgetStatus, claimBudgetNotice, tenantMonth } from "../usage/index.ts";
import type { ClaimedBatch } from "./dispatcher.ts";
import type { OutboundReply } from "./outbox.ts";
import { finishClaimed } from "./queue-store.ts";
import { appendTimeline } from "./timeline.ts";

/** The customer's one reply of a month in which the tenant's model budget is reached. */
export const BUDGET_REACHED_REPLY = "Sorry, this assistant's monthly budget is reached; your operator has been told.";

/**
 * Before a run: a tenant at or over its monthly model budget is not run. Its messages are stored `failed` with
 * `budget_exceeded`, the customer gets one short reply per (tenant-local) month, never one per message, and the
 * operator reads it in the log, /health (budget_refused_runs), the timeline and admin usage. Returns true when
 * the batch was refused (the caller starts no agent).
 */
export async function refuseOverBudget(
  ctx: AppContext,
  outbox: { enqueue(reply: OutboundReply): Promise<string[]> },
  batch: ClaimedBatch,
  tenant: Tenant,
  rows: MessageRow[],
  target: { channel: ChannelName; chatId: string } | null,
): Promise<boolean> {
  const nowMs = ctx.clock.now();
  const status = await budgetStatus(ctx.db, tenant, ctx.config, nowMs);
  if (!status.isOver) return false;
  const isTasksOnly = rows.every((m) => m.kind === "task");
  const isCustomerTold =
    !isTasksOnly && target !== null && (await claimBudgetNotice(ctx.db, tenant.id, status.month, nowMs));
  if (isCustomerTold && target) {
    await outbox.enqueue({
      tenantId: tenant.id,
      channel: target.channel,
      chatId: target.chatId,
      text: BUDGET_REACHED_REPLY,
      replyTo: rows[rows.length - 1]!.id,
      kind: "system",
    });
  }
  const ids = rows.map((m) => m.id);
  await finishClaimed(ctx.db, ids, batch.owner, { status: "failed", error: BUDGET_EXCEEDED }, nowMs);
  ctx.metrics.budgetRefusedRuns.inc();
  ctx.metrics.agentRuns.inc({ result: BUDGET_EXCEEDED });
  ctx.log.warn("agent run refused: monthly budget reached", {
    tenantId: tenant.id,
    month: status.month,
    budgetUsd: status.budgetUsd,
    spentUsd: Math.round(status.spentUsd * 10_000) / 10_000,
    messages: ids.length,
    isCustomerTold,
  });
  await appendTimeline(
    ctx,
    tenant,
    `✗ not run: the monthly model budget is reached (${status.spentUsd.toFixed(2)} of ${status.budgetUsd} USD in ${status.month})${isCustomerTold ? " — the customer was told" : ""}`,
  );
  return true;
}

/** The "budget reached" reply if this tenant's month has not had it yet (then it is claimed), else null. */
export async function budgetReachedReply(ctx: AppContext, tenant: Tenant): Promise<string | null> {
  const nowMs = ctx.clock.now();
  const isFirst = await claimBudgetNotice(ctx.db, tenant.id, tenantMonth(nowMs, tenant.timezone), nowMs);
  return isFirst ? BUDGET_REACHED_REPLY : null;
}
