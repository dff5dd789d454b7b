import { relative } from "node:path";
import type { AppContext } from "../context.ts";
import type { Channel, MediaRef } from "../channels/types.ts";
import { resolveInWorkspace, workspacePath } from "../tenants/index.ts";

/** One entry of messages.media (JSON): a saved file (path relative to the workspace) or why it is missing. */
export type StoredMedia =
  | { kind: MediaRef["kind"]; path: string; mimeType?: string; sizeBytes: number }
  | { kind: MediaRef["kind"]; error: string; fileName?: string };

/**
 * Downloads the message's media into the tenant's inbox/ through its channel. A file that cannot
 * be fetched (too large, network) is recorded with its error, so the agent is told it was sent.
 */
export async function fetchInboundMedia(
  ctx: Pick<AppContext, "config" | "log">,
  tenantId: string,
  channel: Channel | undefined,
  refs: readonly MediaRef[],
): Promise<StoredMedia[]> {
  if (refs.length === 0) return [];
  const workspace = workspacePath(ctx.config, tenantId);
  const inbox = resolveInWorkspace(ctx.config, tenantId, "inbox");
  const stored: StoredMedia[] = [];
  for (const ref of refs) {
    if (!channel?.fetchMedia) {
      stored.push({ kind: ref.kind, error: "this channel cannot download files", ...(ref.fileName ? { fileName: ref.fileName } : {}) });
      continue;
    }
    try {
      const saved = await channel.fetchMedia(ref, inbox);
      const path = relative(workspace, resolveInWorkspace(ctx.config, tenantId, relative(workspace, saved.path)));
      stored.push({ kind: saved.kind, path, sizeBytes: saved.sizeBytes, ...(saved.mimeType ? { mimeType: saved.mimeType } : {}) });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      ctx.log.warn("media not saved", { tenantId, kind: ref.kind, error });
      stored.push({ kind: ref.kind, error, ...(ref.fileName ? { fileName: ref.fileName } : {}) });
    }
  }
  return stored;
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
