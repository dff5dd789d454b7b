import type { HealthContributor } from "../http/health.ts";
import type { Channels } from "./channels.ts";

/** GET /health fields: each channel's on/off line and, when given, how many replies wait in the outbox. */
export function channelsHealth(channels: Pick<Channels, "status">, outbox?: { pendingCount(): Promise<number> }): HealthContributor {
  return async function channelHealth() {
    const fields: Record<string, unknown> = { channels: channels.status };
    if (outbox) fields.outbox_pending = await outbox.pendingCount();
    return { fields };
  };
}
