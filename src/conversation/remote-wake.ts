import type { AppContext } from "../context.ts";
import type { Service } from "../ports.ts";
import { hasQueuedForInstance } from "./queue-store.ts";

/** How often an owner looks for messages another instance stored (remote database only). */
export const REMOTE_POLL_MS = 1000;

/**
 * With a remote database another instance may store a message for a tenant this one owns; its in-process
 * wake never reaches here, so once a second this instance asks (one indexed query) and wakes its dispatcher.
 */
export function createRemoteWake(ctx: AppContext, wake: () => void, intervalMs = REMOTE_POLL_MS): Service {
  const log = ctx.log.child({ component: "remote-wake" });
  let timer: ReturnType<typeof setInterval> | undefined;
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      if (await hasQueuedForInstance(ctx.db, ctx.config.INSTANCE_ID)) wake();
    } catch (err) {
      log.warn("queued-work poll failed", { error: err });
    } finally {
      polling = false;
    }
  };
  return {
    name: "remote-wake",
    start() {
      timer = setInterval(() => void poll(), intervalMs);
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
