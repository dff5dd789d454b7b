import type { AppContext } from "../context.ts";
import type { MessageRow } from "../db/index.ts";
import type { Service } from "../ports.ts";
import type { QueueScope } from "./queue-store.ts";
import {
  activeLeaseOwners,
  claimQueued,
  freeLeaseOf,
  isLessRecentlyServedTenantWaiting,
  requeueAbandoned,
  tenantsWithQueued,
} from "./queue-store.ts";
import { acquireLease, isDeadLocalOwner, readSessionStart, releaseLease, renewLease } from "./session-store.ts";

/** What the dispatcher hands the turn runner: one tenant's claimed messages, in arrival order. */
export interface ClaimedBatch {
  tenantId: string;
  /** The CLI session to resume (null: fresh). */
  sessionId: string | null;
  /** The tenant's reset mark when the batch was claimed: pass it to saveSessionId (a /reset since then wins). */
  resetMark: string | null;
  /** The tenant's turn mark when the batch was claimed (SessionStart.turnMark); absent = unknown. */
  turnMark?: string | null;
  messages: MessageRow[];
  /** The lease owner id (this process). */
  owner: string;
  /**
   * Aborted the moment the lease is lost (not renewed before it expired, taken over by another process,
   * freed by an operator): the agent run is killed and its outcome must be dropped.
   */
  signal: AbortSignal;
  /** False once the lease was lost (same as `!signal.aborted`). */
  isLeaseHeld(): boolean;
}

export interface DispatcherOptions {
  /** This process's lease owner id (see newOwnerId). */
  ownerId: string;
  /** Which queued messages this process takes. */
  scope: QueueScope;
  /** Runs the agent once on a batch; expected failures are handled inside (it should not throw). */
  runBatch(batch: ClaimedBatch): Promise<void>;
  /** Runs at once across tenants. Default: config.AGENT_MAX_CONCURRENCY. */
  maxConcurrency?: number;
  /** How often to look for expired leases and abandoned runs (not the hot path). Default 5000 ms. */
  sweepIntervalMs?: number;
  /** Whether a lease holder is certainly dead (its lease is freed at once). Default: isDeadLocalOwner. */
  isOwnerDead?: (holder: string) => boolean;
  /** How long stop() waits for runs in flight before leaving them to recovery. Default 15000 ms. */
  stopGraceMs?: number;
  /**
   * How often a running tenant's lease is renewed and checked. Default: a third of LEASE_TTL_MS, at most
   * LEASE_CHECK_MAX_MS (so an operator's reset stops a run within seconds), at least 250 ms.
   */
  heartbeatMs?: number;
}

/** The longest gap between two lease checks of a running tenant. */
export const LEASE_CHECK_MAX_MS = 5000;

/** The event-driven queue runner: wake() it when work may be waiting. */
export interface Dispatcher extends Service {
  /**
   * Something changed (new message, finished run, freed lease): look for work now. `tenantId`: only that tenant's
   * messages are new (one was just queued here), so it alone is tried — no look across tenants.
   */
  wake(tenantId?: string): void;
  /** Tenants being run by this process right now. */
  activeTenants(): string[];
  /** Resolves when nothing is running and no pass is pending (tests). */
  idle(): Promise<void>;
  /**
   * Calls `listener` with a batch's messages each time runBatch returned (its rows finished, or left to the
   * lease's next holder); returns the undo. The scheduler reads its task runs' outcomes from `messages` then.
   */
  onBatchFinished(listener: (messages: MessageRow[]) => void): () => void;
}

/**
 * Creates the dispatcher. Takes tenants with queued messages least recently served first (never-served
 * first; see tenantsWithQueued), at most maxConcurrency at once; per tenant: one conditional lease
 * UPDATE, claim all queued messages, run, heartbeat the lease at a third of LEASE_TTL_MS, loop while
 * more arrived (unless, at the cap, a tenant served less recently is waiting: then it yields), release, wake.
 */
export function createDispatcher(ctx: AppContext, options: DispatcherOptions): Dispatcher {
  const { ownerId: owner, scope } = options;
  const max = options.maxConcurrency ?? ctx.config.AGENT_MAX_CONCURRENCY;
  const ttlMs = ctx.config.LEASE_TTL_MS;
  const log = ctx.log.child({ component: "dispatcher" });
  const isOwnerDead = options.isOwnerDead ?? ((holder: string) => isDeadLocalOwner(holder, owner));
  const running = new Map<string, Promise<void>>();
  let started = false;
  let stopped = false;
  let pumping: Promise<void> | null = null;
  // What the next pass looks at: every tenant (`isFullPassDue`), or only the tenants just woken by name.
  // A full pass leaves no tenant waiting while a slot is free (it stops when none is left or at the cap), so a
  // message queued for one tenant afterwards needs only that tenant tried; at the cap, the pass that follows a
  // finished run picks fairly across tenants. A failed pass makes the next one full again.
  let isFullPassDue = false;
  const wokenTenants = new Set<string>();
  let sweepTimer: ReturnType<typeof setInterval> | undefined;
  const batchListeners = new Set<(messages: MessageRow[]) => void>();

  const wake = (tenantId?: string) => {
    if (!started || stopped) return;
    if (tenantId === undefined) isFullPassDue = true;
    else wokenTenants.add(tenantId);
    if (!pumping) startPass();
  };

  function startPass(): void {
    const isFull = isFullPassDue;
    const tenantIds = [...wokenTenants];
    isFullPassDue = false;
    wokenTenants.clear();
    let hasFailed = false;
    pumping = (isFull ? pump() : pumpTenants(tenantIds))
      .catch((err: unknown) => {
        hasFailed = true;
        log.error("dispatch pass failed", { error: err });
      })
      .finally(() => {
        pumping = null;
        // After a failure the next pass is a full one, started by the next wake or sweep (a database error would
        // only repeat at once).
        if (hasFailed) isFullPassDue = true;
        if (stopped || (hasFailed && wokenTenants.size === 0)) return;
        if (isFullPassDue || wokenTenants.size > 0) startPass();
      });
  }

  async function pump(): Promise<void> {
    const skipped = new Set<string>();
    while (!stopped && running.size < max) {
      const exclude = [...running.keys(), ...skipped];
      const candidates = await tenantsWithQueued(ctx.db, scope, exclude, max - running.size + 8);
      if (candidates.length === 0) return;
      for (const tenantId of candidates) {
        if (stopped || running.size >= max) return;
        if (!(await startServing(tenantId))) skipped.add(tenantId); // another process runs it; its release wakes it there
      }
    }
  }

  /** Tries the named tenants only (each had a message queued here); those already running pick it up themselves. */
  async function pumpTenants(tenantIds: string[]): Promise<void> {
    for (const tenantId of tenantIds) {
      if (stopped || running.size >= max) return;
      if (running.has(tenantId) || (scope.tenantId !== undefined && scope.tenantId !== tenantId)) continue;
      await startServing(tenantId);
    }
  }

  /** Takes the tenant's lease and serves it in the background; false when another process holds the lease. */
  async function startServing(tenantId: string): Promise<boolean> {
    const acquiredAt = ctx.clock.now();
    const lease = await acquireLease(ctx.db, tenantId, owner, acquiredAt, ttlMs);
    if (!lease) return false;
    log.debug("lease acquired", { tenantId, owner });
    const run = serveTenant(tenantId, acquiredAt + ttlMs).finally(() => {
      running.delete(tenantId);
      wake();
    });
    running.set(tenantId, run);
    return true;
  }

  /**
   * Serves one tenant under the lease just acquired. The heartbeat renews it; when a renewal finds it gone,
   * or none succeeded before it expired (a paused process, a database locked for longer than the lease),
   * the run's signal aborts: its agent is killed and its outcome dropped, since another process may already
   * be running the same messages.
   */
  async function serveTenant(tenantId: string, acquiredUntilMs: number): Promise<void> {
    const lease = new AbortController();
    let expiresAtMs = acquiredUntilMs; // what the row says; moved on by each renewal
    const lose = (reason: string) => {
      if (lease.signal.aborted) return;
      log.warn("lease lost; stopping the tenant's run", { tenantId, owner, reason });
      lease.abort(new Error(`lease lost: ${reason}`));
    };
    const renew = async (): Promise<boolean> => {
      const at = ctx.clock.now();
      if (at >= expiresAtMs) {
        lose("not renewed before it expired");
        return false;
      }
      if (!(await renewLease(ctx.db, tenantId, owner, at, ttlMs))) {
        lose("taken over or freed");
        return false;
      }
      // A renewal that answered after the lease ran out (the process was paused meanwhile) proves nothing.
      if (ctx.clock.now() >= expiresAtMs) {
        lose("not renewed before it expired");
        return false;
      }
      expiresAtMs = at + ttlMs;
      return true;
    };
    const heartbeatMs = options.heartbeatMs ?? Math.max(250, Math.min(LEASE_CHECK_MAX_MS, Math.floor(ttlMs / 3)));
    const heartbeat = setInterval(() => {
      renew().catch((err: unknown) => log.error("lease renewal failed", { tenantId, error: err })); // the next beat checks the expiry
    }, heartbeatMs);
    let justAcquired = true;
    try {
      while (!stopped && !lease.signal.aborted) {
        // Claim only under a lease just acquired or renewed (conditional on holding it): a lost lease stops the loop.
        // The first claim follows the acquiring UPDATE at once, so a renewal there would only cost a write.
        if (!justAcquired && !(await renew())) break;
        justAcquired = false;
        const messages = await claimQueued(ctx.db, tenantId, owner, scope, ctx.clock.now());
        if (messages.length === 0) break;
        const { sessionId, resetMark, turnMark } = await readSessionStart(ctx.db, tenantId);
        if (lease.signal.aborted) break; // the claimed rows are re-queued once the lease is free
        await options.runBatch({
          tenantId,
          sessionId,
          resetMark,
          turnMark,
          messages,
          owner,
          signal: lease.signal,
          isLeaseHeld: () => !lease.signal.aborted,
        });
        for (const listener of batchListeners) {
          try {
            listener(messages);
          } catch (err) {
            log.error("batch listener failed", { tenantId, error: err });
          }
        }
        if (await shouldYield(tenantId)) {
          log.debug("lease yielded to a tenant served less recently", { tenantId, owner });
          break; // the finally releases the lease; the pump then picks fairly (least recently served first)
        }
      }
    } catch (err) {
      log.error("tenant run failed", { tenantId, error: err });
    } finally {
      clearInterval(heartbeat);
      await releaseLease(ctx.db, tenantId, owner, ctx.clock.now()).catch((err: unknown) =>
        log.error("lease release failed", { tenantId, error: err }),
      );
    }
  }

  /** At the concurrency cap, a tenant with follow-up messages lets a tenant served less recently go first. */
  async function shouldYield(tenantId: string): Promise<boolean> {
    if (running.size < max) return false; // the pump can start the others beside this one
    const others = [...running.keys()].filter((id) => id !== tenantId);
    return isLessRecentlyServedTenantWaiting(ctx.db, scope, tenantId, others, ctx.clock.now());
  }

  /** Frees leases of dead local processes and re-queues runs cut short; then looks for work. */
  async function recover(): Promise<void> {
    const now = ctx.clock.now();
    const dead: string[] = [];
    const recovered = new Set<string>(); // tenants, counted once per sweep in proxystaff_lease_recoveries_total
    for (const { tenantId, owner: holder } of await activeLeaseOwners(ctx.db, now)) {
      if (!isOwnerDead(holder)) continue;
      dead.push(holder);
      await freeLeaseOf(ctx.db, tenantId, holder, now);
      recovered.add(tenantId);
      log.warn("freed the lease of a dead process", { tenantId, owner: holder });
    }
    const requeued = await requeueAbandoned(ctx.db, now, dead);
    if (requeued.count > 0)
      log.warn("re-queued messages of runs cut short", { count: requeued.count, tenants: requeued.tenantIds.length });
    for (const tenantId of requeued.tenantIds) recovered.add(tenantId);
    if (recovered.size > 0) ctx.metrics.leaseRecoveries.inc(recovered.size);
  }

  const sweep = () => {
    recover()
      .catch((err: unknown) => log.error("recovery sweep failed", { error: err }))
      .finally(wake);
  };

  return {
    name: "dispatcher",
    async start() {
      started = true;
      await recover();
      sweepTimer = setInterval(sweep, options.sweepIntervalMs ?? 5000);
      wake();
    },
    async stop() {
      stopped = true;
      if (sweepTimer) clearInterval(sweepTimer);
      const inFlight = Promise.all([pumping, ...running.values()]);
      const grace = options.stopGraceMs ?? 15_000;
      const finished = await Promise.race([inFlight.then(() => true), Bun.sleep(grace).then(() => false)]);
      if (!finished)
        log.warn("runs still in flight at stop; they are re-run after restart", { tenants: [...running.keys()] });
    },
    wake,
    activeTenants: () => [...running.keys()],
    async idle() {
      while (pumping || running.size > 0) await Promise.all([pumping, ...running.values()]);
    },
    onBatchFinished(listener) {
      batchListeners.add(listener);
      return () => batchListeners.delete(listener);
    },
  };
}
