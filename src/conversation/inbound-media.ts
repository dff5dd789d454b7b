import { eq } from "drizzle-orm";
import type { Channel, ChannelName, MediaRef, MediaSink } from "../channels/types.ts";
import type { AppContext } from "../context.ts";
import type { MessageRow } from "../db/index.ts";
import { messages } from "../db/schema.ts";
import { errorMessage, ValidationError } from "../errors.ts";
import { writeWorkspaceFile } from "../tenants/index.ts";
import type { TimelineTenant } from "./timeline.ts";
import { appendTimeline } from "./timeline.ts";

/**
 * One entry of messages.media (JSON): a file still to download (stored by the pipeline, so the
 * webhook answers at once), a saved file (path relative to the workspace), or why it is missing.
 */
export type StoredMedia =
  | { kind: MediaRef["kind"]; status: "pending download"; ref: MediaRef }
  | { kind: MediaRef["kind"]; path: string; mimeType?: string; sizeBytes: number }
  | { kind: MediaRef["kind"]; error: string; fileName?: string };

/** The pipeline's entries for a message's media: every file pending download (nothing fetched yet). */
export function pendingMedia(refs: readonly MediaRef[]): StoredMedia[] {
  return refs.map((ref) => ({ kind: ref.kind, status: "pending download", ref }));
}

/** True for an entry the turn still has to download. */
export function isPendingMedia(media: StoredMedia): media is Extract<StoredMedia, { status: "pending download" }> {
  return "status" in media && media.status === "pending download";
}

/**
 * Where a channel's downloads go: the tenant's inbox/, written through writeWorkspaceFile (no link the
 * agent put there is followed); the path is returned relative to the workspace.
 */
export function saveToInbox(ctx: Pick<AppContext, "config">, tenantId: string): MediaSink {
  return function saveInInbox(name, bytes) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
      throw new ValidationError(`Media file name ${JSON.stringify(name.slice(0, 100))} is not a plain file name.`);
    const path = `inbox/${name}`;
    writeWorkspaceFile(ctx.config, tenantId, path, bytes, 0o640);
    return path;
  };
}

/**
 * Downloads one file into the tenant's inbox/ through its channel. A file that cannot be fetched
 * (too large, network, a channel without downloads) is recorded with its error, so the agent is
 * told it was sent.
 */
async function fetchOne(
  ctx: Pick<AppContext, "config" | "log">,
  tenantId: string,
  channel: Channel | undefined,
  ref: MediaRef,
): Promise<StoredMedia> {
  const fileName = ref.fileName ? { fileName: ref.fileName } : {};
  if (!channel?.fetchMedia) return { kind: ref.kind, error: "this channel cannot download files", ...fileName };
  try {
    const saved = await channel.fetchMedia(ref, saveToInbox(ctx, tenantId));
    return {
      kind: saved.kind,
      path: saved.path,
      sizeBytes: saved.sizeBytes,
      ...(saved.mimeType ? { mimeType: saved.mimeType } : {}),
    };
  } catch (err) {
    const error = errorMessage(err);
    ctx.log.warn("media not saved", { tenantId, kind: ref.kind, error });
    return { kind: ref.kind, error, ...fileName };
  }
}

/**
 * Before a run: downloads every pending file of these messages into the tenant's inbox/ (through
 * the channel each message came in on), stores the outcome in messages.media and returns the rows
 * as the prompt should see them. Rows without pending media are returned as they are.
 */
export async function downloadPendingMedia(
  ctx: Pick<AppContext, "config" | "log" | "db" | "clock">,
  tenant: TimelineTenant,
  rows: readonly MessageRow[],
  channels: ReadonlyMap<ChannelName, Channel>,
): Promise<MessageRow[]> {
  const tenantId = tenant.id;
  const ready: MessageRow[] = [];
  for (const row of rows) {
    const media = parseStoredMedia(row.media);
    if (!media.some(isPendingMedia)) {
      ready.push(row);
      continue;
    }
    const done: StoredMedia[] = [];
    for (const entry of media)
      done.push(isPendingMedia(entry) ? await fetchOne(ctx, tenantId, channels.get(row.channel), entry.ref) : entry);
    const json = JSON.stringify(done);
    await ctx.db.update(messages).set({ media: json }).where(eq(messages.id, row.id));
    ctx.log.info("media downloaded", {
      tenantId,
      messageId: row.id,
      saved: done.filter((m) => "path" in m).length,
      failed: done.filter((m) => "error" in m).length,
    });
    const lines = done.map((m) =>
      "path" in m ? `${m.kind} saved: ${m.path}` : "error" in m ? `${m.kind} not downloaded: ${m.error}` : m.kind,
    );
    await appendTimeline(ctx, tenant, `📎 ${lines.join("; ")}`);
    ready.push({ ...row, media: json });
  }
  return ready;
}

/** Reads messages.media back (invalid or absent JSON: no media). */
export function parseStoredMedia(json: string | null): StoredMedia[] {
  if (!json) return [];
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? (value as StoredMedia[]) : [];
  } catch {
    return []; // a hand-edited row: the message text still reaches the agent
  }
}
