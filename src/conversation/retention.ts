import { constants, existsSync } from "node:fs";
import { lstat, open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { and, desc, eq, inArray, isNull, lt, notInArray, sql } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { messages, tenants } from "../db/schema.ts";
import type { Service } from "../ports.ts";
import { workspacePath } from "../tenants/index.ts";

const DAY_MS = 86_400_000;
/** Rows a message is never deleted in: still to be run, being run, or still to be sent. */
const LIVE_STATUSES = ["queued", "processing", "pending"] as const;
/** Workspace folders whose old files are pruned (flat: files directly inside, nothing below). */
const PRUNED_FOLDERS = ["timeline", "inbox"] as const;
const HAS_PROC_FD = existsSync("/proc/self/fd");

export interface RetentionOptions {
  /** Messages deleted per DELETE; the loop yields between batches. Default 500. */
  batchSize?: number;
  /** Each tenant's newest messages kept whatever their age. Default 200. */
  keepLastPerTenant?: number;
  /** Days strangers' rows (no tenant: unknown chats) are kept, whatever RETENTION_DAYS says. Default 30. */
  strangerDays?: number;
  /** Delay of the first pass after start (start-up is not slowed by it). Default 60 000 ms. */
  firstDelayMs?: number;
  /** Between passes. Default one day. */
  intervalMs?: number;
}

/** What one pass removed. */
export interface RetentionReport {
  messages: number;
  strangerMessages: number;
  files: number;
}

/** The daily retention job: a service to start/stop with the server, and one pass on demand (tests, operators). */
export interface Retention {
  service: Service;
  runOnce(): Promise<RetentionReport>;
}

/**
 * Prunes what would otherwise grow forever: messages older than RETENTION_DAYS (each tenant's newest
 * `keepLastPerTenant` kept, live rows never touched), strangers' rows after `strangerDays`, and the regular
 * files of each tenant's timeline/ and inbox/ older than RETENTION_DAYS. RETENTION_DAYS=0 keeps tenants'
 * data forever (strangers' rows still go). Deletes in small batches and yields between them, so chat keeps flowing.
 */
export function createRetention(ctx: AppContext, options: RetentionOptions = {}): Retention {
  const batchSize = options.batchSize ?? 500;
  const keepLast = options.keepLastPerTenant ?? 200;
  const strangerDays = options.strangerDays ?? 30;
  const firstDelayMs = options.firstDelayMs ?? 60_000;
  const intervalMs = options.intervalMs ?? DAY_MS;
  const log = ctx.log.child({ component: "retention" });
  let isRunning = false;
  /** Set by stop(): a pass in progress ends after its current batch. */
  let isStopping = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<unknown> | undefined;

  /** Deletes matching rows `batchSize` at a time until none is left (or the job stops); returns how many. */
  async function deleteInBatches(where: ReturnType<typeof and>): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = ctx.db.select({ id: messages.id }).from(messages).where(where).limit(batchSize);
      const gone = await ctx.db.delete(messages).where(inArray(messages.id, batch)).returning({ id: messages.id });
      total += gone.length;
      if (gone.length < batchSize || isStopping) return total;
      await yieldToLoop();
    }
  }

  async function pruneTenantMessages(tenantId: string, cutoff: string): Promise<number> {
    // The newest `keepLast` rows stay: only rows older than the oldest of them (and than the cutoff) go.
    const [oldestKept] = await ctx.db
      .select({ created_at: messages.created_at })
      .from(messages)
      .where(eq(messages.tenant_id, tenantId))
      .orderBy(desc(messages.created_at))
      .limit(1)
      .offset(keepLast - 1);
    if (!oldestKept) return 0;
    const before = oldestKept.created_at < cutoff ? oldestKept.created_at : cutoff;
    return deleteInBatches(
      and(
        eq(messages.tenant_id, tenantId),
        lt(messages.created_at, before),
        notInArray(messages.status, [...LIVE_STATUSES]),
      ),
    );
  }

  async function runOnce(): Promise<RetentionReport> {
    const nowMs = ctx.clock.now();
    const report: RetentionReport = { messages: 0, strangerMessages: 0, files: 0 };
    report.strangerMessages = await deleteInBatches(
      and(
        isNull(messages.tenant_id),
        lt(messages.created_at, isoAt(nowMs - strangerDays * DAY_MS)),
        notInArray(messages.status, [...LIVE_STATUSES]),
      ),
    );
    const days = ctx.config.RETENTION_DAYS;
    if (days > 0) {
      const cutoffMs = nowMs - days * DAY_MS;
      const cutoff = isoAt(cutoffMs);
      // Whether a tenant has a message older than the cutoff comes with its row (an index probe each on
      // messages_tenant_created_idx): only those have messages to prune, without a query per tenant. (The table
      // is named: in a selected field drizzle writes a bare column name, which the subquery would take for m.id.)
      const everyTenant = await ctx.db
        .select({
          id: tenants.id,
          hasOld: sql<number>`EXISTS (SELECT 1 FROM ${messages} m WHERE m.tenant_id = ${tenants}.id AND m.created_at < ${cutoff})`,
        })
        .from(tenants);
      for (const { id, hasOld } of everyTenant) {
        if (isStopping) break;
        if (hasOld) report.messages += await pruneTenantMessages(id, cutoff);
        if (!hasWorkspaceHere(ctx, id)) continue; // another instance's tenant, or none yet: no folders to walk
        for (const folder of PRUNED_FOLDERS) report.files += await pruneOldFiles(ctx, id, folder, cutoffMs);
      }
    }
    log.info("retention pass", { retention_days: days, ...report });
    return report;
  }

  function schedule(delayMs: number) {
    if (!isRunning) return;
    timer = setTimeout(() => {
      current = runOnce()
        .catch((err: unknown) => log.error("retention pass failed", { error: err }))
        .finally(() => {
          current = undefined;
          schedule(intervalMs);
        });
    }, delayMs);
    timer.unref?.();
  }

  const service: Service = {
    name: "retention",
    start() {
      if (isRunning) return;
      isRunning = true;
      isStopping = false;
      log.info("retention started", { retention_days: ctx.config.RETENTION_DAYS, stranger_days: strangerDays });
      schedule(firstDelayMs);
    },
    async stop() {
      isRunning = false;
      isStopping = true;
      clearTimeout(timer);
      await current;
    },
  };
  return { service, runOnce };
}

/**
 * Unlinks the regular files directly inside the tenant's `folder` whose mtime is before `cutoffMs`. The
 * workspace is the agent's: the folder is opened without following a link (a timeline/ swapped for a
 * symlink is skipped) and every later step goes through that open directory (/proc/self/fd), so swapping
 * it mid-pass cannot steer an unlink elsewhere; symlinks, FIFOs and subfolders inside are left alone, and
 * unlink never follows a link. Returns how many files were removed.
 */
/** Whether the tenant's workspace is on this volume (one stat, no error thrown per missing folder). */
function hasWorkspaceHere(ctx: AppContext, tenantId: string): boolean {
  try {
    return existsSync(workspacePath(ctx.config, tenantId));
  } catch {
    return false; // a hand-inserted non-UUID id has no workspace path
  }
}

async function pruneOldFiles(ctx: AppContext, tenantId: string, folder: string, cutoffMs: number): Promise<number> {
  let path: string;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    path = join(workspacePath(ctx.config, tenantId), folder); // a hand-inserted non-UUID id throws: no folder to prune
    handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Missing (another instance's tenant, a new workspace) is normal; a symlink or file in its place is the agent's doing.
    if (code !== "ENOENT")
      ctx.log.warn("retention skipped a folder that is not a plain directory", { tenantId, folder, code });
    return 0;
  }
  let removed = 0;
  try {
    // Off Linux (a developer's machine) there is no /proc: the folder's own path, checked just above, is used.
    const dir = HAS_PROC_FD ? `/proc/self/fd/${handle.fd}` : path;
    for (const name of await readdir(dir)) {
      const entry = join(dir, name);
      try {
        const stat = await lstat(entry);
        if (!stat.isFile() || stat.mtimeMs >= cutoffMs) continue;
        await unlink(entry);
        removed++;
      } catch (err) {
        ctx.log.warn("retention could not remove a file", {
          tenantId,
          folder,
          file: name,
          code: (err as NodeJS.ErrnoException).code,
        });
      }
    }
  } finally {
    await handle.close();
  }
  return removed;
}
