import { and, eq, inArray, sql } from "drizzle-orm";
import type { ChannelName } from "../channels/types.ts";
import type { AppContext } from "../context.ts";
import type { MessageRow } from "../db/index.ts";
import { messages } from "../db/schema.ts";
import { parseStoredMedia } from "./inbound-media.ts";
import type { TimelineTenant } from "./timeline.ts";
import { appendTimeline, quoteForTimeline } from "./timeline.ts";

/** The timeline line of a customer's message: "← <sender> (<channel>): <text> [photo]". */
export function inboundTimelineLine(message: {
  sender: string | null;
  channel: ChannelName;
  body: string;
  mediaKinds: readonly string[];
}): string {
  const attached = message.mediaKinds.map((kind) => ` [${kind}]`).join("");
  return `← ${message.sender ?? "customer"} (${message.channel}): ${quoteForTimeline(message.body)}${attached}`;
}

/**
 * The owner's half of a message another instance stored (that instance has no workspace for the tenant,
 * so it wrote no timeline line and set `messages.timeline_owed` instead): when the owner takes
 * the batch, it clears the marks in one conditional UPDATE — so each line is owed to exactly one writer —
 * and writes the lines it took, in the tenant's zone at each message's created_at. Rows without the
 * mark (stored here, their line written then) are left alone. Resolves once the lines are written.
 */
export async function writeOwedInboundLines(
  ctx: Pick<AppContext, "db" | "config" | "log" | "clock">,
  tenant: TimelineTenant,
  rows: readonly MessageRow[],
): Promise<number> {
  const owed = rows.filter((row) => row.direction === "in" && row.timeline_owed);
  if (owed.length === 0) return 0;
  const taken = await ctx.db
    .update(messages)
    .set({ timeline_owed: false })
    .where(
      and(
        inArray(
          messages.id,
          owed.map((row) => row.id),
        ),
        sql`${messages.direction} = 'in'`,
        eq(messages.timeline_owed, true),
      ),
    )
    .returning({ id: messages.id });
  const takenIds = new Set(taken.map((row) => row.id));
  const lines = owed.filter((row) => takenIds.has(row.id));
  for (const row of lines) {
    const line = inboundTimelineLine({
      sender: row.sender,
      channel: row.channel,
      body: row.body,
      mediaKinds: parseStoredMedia(row.media).map((m) => m.kind),
    });
    await appendTimeline(ctx, tenant, line, Date.parse(row.created_at));
  }
  return lines.length;
}
