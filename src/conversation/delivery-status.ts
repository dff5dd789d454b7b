import { sql } from "drizzle-orm";
import type { DeliveryStatusUpdate } from "../channels/index.ts";
import type { AppContext } from "../context.ts";
import { getTenant } from "../tenants/index.ts";
import { appendTimeline, quoteForTimeline } from "./timeline.ts";

/**
 * The order a delivery status only moves forward in: delivered (1) < read (2); undelivered and
 * failed (3) are terminal — once one is stored, nothing replaces it (not even the other). Twilio's
 * callbacks arrive out of order (a late "delivered" after "read"), and may repeat: a callback that
 * would not move the status forward changes nothing, so recording is idempotent. Statuses before
 * delivery (queued, sent, …) are not stored at all (the row's `status = 'sent'` already says so).
 */
export const DELIVERY_RANK: Readonly<Record<DeliveryStatusUpdate["status"], number>> = Object.freeze({
  delivered: 1,
  read: 2,
  undelivered: 3,
  failed: 3,
});

/**
 * Records a status callback on the outbound row whose external_id is the platform's message id (the
 * MessageSid Twilio answered), in that chat (so the lookup uses the chat's index). Returns whether the
 * row changed (false: unknown message, or the status would move backwards / repeat).
 */
export async function recordDeliveryStatus(ctx: AppContext, update: DeliveryStatusUpdate): Promise<boolean> {
  const rank = DELIVERY_RANK[update.status];
  const chatFilter = update.chatId ? sql`AND chat_id = ${update.chatId}` : sql``;
  const rows = await ctx.db.all<{ id: string; tenant_id: string | null; body: string }>(sql`
    UPDATE messages SET delivery_status = ${update.status}, error_code = ${update.errorCode}
    WHERE direction = 'out' AND channel = ${update.channel} ${chatFilter} AND external_id = ${update.externalId}
      AND (CASE delivery_status WHEN 'delivered' THEN 1 WHEN 'read' THEN 2
             WHEN 'undelivered' THEN 3 WHEN 'failed' THEN 3 ELSE 0 END) < ${rank}
    RETURNING id, tenant_id, body`);
  const changed = rows.length > 0;
  ctx.log.info(changed ? "delivery status recorded" : "delivery status not newer; unchanged", {
    channel: update.channel,
    externalId: update.externalId,
    messageId: rows[0]?.id,
    status: update.status,
    errorCode: update.errorCode,
  });
  const row = rows[0];
  const tenant = row?.tenant_id ? await getTenant(ctx.db, row.tenant_id) : null;
  if (row && tenant) {
    const mark = update.status === "undelivered" || update.status === "failed" ? "✗" : "✓";
    const code = update.errorCode ? ` (error ${update.errorCode})` : "";
    await appendTimeline(ctx, tenant, `${mark} ${update.status}${code}: ${quoteForTimeline(row.body, 80)}`);
  }
  return changed;
}
