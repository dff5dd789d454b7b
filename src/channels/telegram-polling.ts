import { eq, sql } from "drizzle-orm";
import type { Bot } from "grammy";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { schema } from "../db/index.ts";
import { errorMessage } from "../errors.ts";
import type { Service } from "../ports.ts";

/** The app_state key holding the next update id to ask Telegram for. */
export const TELEGRAM_OFFSET_KEY = "telegram.offset";
const MAX_RETRY_MS = 30_000;

export interface TelegramPollingOptions {
  allowedUpdates: "message"[];
  /** Long-poll wait per getUpdates call. Default 25 s. */
  timeoutS?: number;
  /** First delay after a failure; doubles up to 30 s. Default 1 000 ms. */
  retryMs?: number;
}

/**
 * Long polling with the offset kept in the database: an update's offset is stored only after its
 * handler resolved (the pipeline stored it), so a restart neither loses nor repeats updates. A failing
 * handler stops the batch there and the same update is fetched again after a backoff.
 */
export function createTelegramPolling(ctx: AppContext, bot: Bot, options: TelegramPollingOptions): Service {
  const log = ctx.log.child({ channel: "telegram", component: "polling" });
  const timeoutS = options.timeoutS ?? 25;
  const baseRetryMs = options.retryMs ?? 1_000;
  let isRunning = false;
  let abort = new AbortController();
  let loop: Promise<void> | null = null;
  let retryMs = baseRetryMs;

  async function readOffset(): Promise<number> {
    const rows = await ctx.db.select().from(schema.appState).where(eq(schema.appState.key, TELEGRAM_OFFSET_KEY));
    const value = Number(rows[0]?.value ?? 0);
    return Number.isSafeInteger(value) && value > 0 ? value : 0;
  }

  async function saveOffset(offset: number): Promise<void> {
    const now = isoAt(ctx.clock.now());
    await ctx.db
      .insert(schema.appState)
      .values({ key: TELEGRAM_OFFSET_KEY, value: String(offset), updated_at: now })
      .onConflictDoUpdate({
        target: schema.appState.key,
        set: { value: sql`excluded.value`, updated_at: sql`excluded.updated_at` },
      });
  }

  async function pause(): Promise<void> {
    const delay = retryMs;
    retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, delay);
      abort.signal.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async function run(): Promise<void> {
    let offset = -1;
    while (isRunning && offset < 0) {
      try {
        offset = await readOffset();
      } catch (err) {
        log.error("telegram offset could not be read; retrying", { error: errorMessage(err), retryMs });
        await pause();
      }
    }
    if (!isRunning) return;
    log.info("telegram polling started", { offset });
    while (isRunning) {
      let updates: Awaited<ReturnType<typeof bot.api.getUpdates>>;
      try {
        updates = await bot.api.getUpdates(
          { offset, timeout: timeoutS, allowed_updates: options.allowedUpdates },
          abort.signal as Parameters<typeof bot.api.getUpdates>[1],
        );
      } catch (err) {
        if (!isRunning) break;
        log.warn("telegram getUpdates failed; retrying", { error: errorMessage(err), retryMs });
        await pause();
        continue;
      }
      for (const update of updates) {
        try {
          await bot.handleUpdate(update);
        } catch (err) {
          log.error("telegram update not accepted; it will be fetched again", {
            updateId: update.update_id,
            error: errorMessage(err),
            retryMs,
          });
          await pause();
          break;
        }
        offset = update.update_id + 1;
        retryMs = baseRetryMs;
        try {
          await saveOffset(offset);
        } catch (err) {
          // The next stored offset covers this one; until then a restart may fetch it again (the pipeline drops duplicates).
          log.warn("telegram offset not stored", { offset, error: errorMessage(err) });
        }
      }
    }
  }

  return {
    name: "telegram-polling",
    async start() {
      if (isRunning) return;
      isRunning = true;
      abort = new AbortController();
      try {
        // getUpdates is refused while a webhook is set; keep any updates Telegram is holding.
        await bot.api.deleteWebhook({ drop_pending_updates: false });
      } catch (err) {
        log.warn("telegram deleteWebhook failed; polling may be refused while a webhook is set", {
          error: errorMessage(err),
        });
      }
      loop = run().catch((err: unknown) => {
        log.error("telegram polling stopped by an error", { error: errorMessage(err) });
      });
    },
    async stop() {
      isRunning = false;
      abort.abort();
      await loop;
      loop = null;
    },
  };
}
