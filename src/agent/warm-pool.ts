import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { WarmProcess } from "./warm-process.ts";

/** Why a warm process was retired (the log line's `reason`; the next turn of its tenant starts cold). */
export type RetireReason =
  | "exited"
  | "turn_failed"
  | "fingerprint_changed"
  | "session_changed"
  | "idle"
  | "evicted"
  | "tenant_stopped"
  | "moved"
  | "server_stopping";

export interface WarmPoolOptions {
  /** Most processes kept at once (AGENT_WARM_MAX). */
  max: number;
  /** A process unused this long is retired (AGENT_WARM_IDLE_MS). */
  idleMs: number;
  clock: Clock;
  log: Logger;
  /** How often the idle check runs. Default: a tenth of idleMs, at least 1 s, at most 60 s. */
  sweepEveryMs?: number;
}

/** A warm process as the periodic check sees it: its tenant and the session it last answered in. */
export interface WarmProcessView {
  tenantId: string;
  sessionId: string | null;
}

/**
 * Which of these processes are stale: the tenant may no longer be served (paused, archived, deleted) or its stored
 * session is no longer the process's (/reset, the admin session reset). Their idle processes are retired.
 */
export type StaleProcessesCheck = (
  processes: WarmProcessView[],
) => Promise<{ tenantId: string; reason: RetireReason }[]>;

/** What /health and /metrics show of the pool. */
export interface WarmPoolStats {
  processes: number;
  busy: number;
  /** Resident memory of every process in the warm processes' groups (bwrap, the CLI, its tools), in bytes. */
  rssBytes: number;
  max: number;
  idleMs: number;
}

/**
 * The warm CLI processes of this server, at most one per tenant and `max` in all, least recently used first out.
 * A process serves one turn at a time: `take` hands it out, `release` puts it back, `retire` ends it.
 */
export class WarmPool {
  /** By tenant; Map order is the LRU order (a use moves the entry to the end). */
  readonly #byTenant = new Map<string, WarmProcess>();
  readonly #retiring = new Set<Promise<void>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #staleCheck: StaleProcessesCheck | null = null;

  constructor(readonly options: WarmPoolOptions) {}

  get size(): number {
    return this.#byTenant.size;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Whether the tenant has an idle process (its next turn may go to it; take() decides). */
  hasIdle(tenantId: string): boolean {
    const proc = this.#byTenant.get(tenantId);
    return proc !== undefined && !proc.busy && !proc.ended;
  }

  /** The tenant's idle process, now busy, or null (none, busy, or already gone). */
  take(tenantId: string): WarmProcess | null {
    const proc = this.#byTenant.get(tenantId);
    if (!proc || proc.busy) return null;
    // Its exit may not have been reaped yet (killed just now): /proc says so before a turn is written to it.
    if (proc.ended || !isAlive(proc.pid)) {
      this.retire(proc, "exited");
      return null;
    }
    proc.busy = true;
    this.#touch(proc);
    return proc;
  }

  /**
   * Whether a new process may join: below `max`, or the least recently used idle one is retired to make room.
   * False when the pool is stopped or every process is busy (the turn then runs cold, as a one-shot).
   */
  makeRoom(tenantId: string): boolean {
    if (this.#stopped) return false;
    const own = this.#byTenant.get(tenantId);
    if (own) {
      if (own.busy) return false;
      this.retire(own, "evicted");
    }
    if (this.#byTenant.size < this.options.max) return true;
    for (const proc of this.#byTenant.values()) {
      if (!proc.busy) {
        this.retire(proc, "evicted");
        return true;
      }
    }
    return false;
  }

  /** Adds a freshly spawned process, busy with its first turn. */
  add(proc: WarmProcess): void {
    proc.busy = true;
    this.#byTenant.set(proc.tenantId, proc);
    this.#touch(proc);
  }

  /** A turn ended well: the process waits for the tenant's next one. */
  release(proc: WarmProcess): void {
    proc.busy = false;
    this.#touch(proc);
    if (this.#stopped || proc.ended) this.retire(proc, this.#stopped ? "server_stopping" : "exited");
  }

  /** Ends a process (it leaves the pool now; its exit completes in the background). */
  retire(proc: WarmProcess, reason: RetireReason): Promise<void> {
    if (this.#byTenant.get(proc.tenantId) === proc) this.#byTenant.delete(proc.tenantId);
    this.options.log.info("warm agent retired", {
      tenantId: proc.tenantId,
      pid: proc.pid,
      reason,
      turns: proc.turns,
    });
    const done = proc.retire();
    this.#retiring.add(done);
    void done.finally(() => this.#retiring.delete(done));
    return done;
  }

  /** Retires the tenant's process if it has one and it is idle (a busy one is retired when its turn ends). */
  retireTenant(tenantId: string, reason: RetireReason): void {
    const proc = this.#byTenant.get(tenantId);
    if (proc && !proc.busy) this.retire(proc, reason);
  }

  /** Retires every idle process unused for `idleMs` (by the pool's clock). */
  sweep(): void {
    const now = this.options.clock.now();
    for (const proc of [...this.#byTenant.values()]) {
      if (!proc.busy && now - proc.lastUsedMs >= this.options.idleMs) this.retire(proc, "idle");
    }
  }

  /** Sets how the periodic check learns which processes went stale (the wiring reads tenants and sessions). */
  setStaleCheck(check: StaleProcessesCheck): void {
    this.#staleCheck = check;
  }

  /** Retires the idle processes the stale check names (paused or archived tenants, sessions reset). */
  async retireStale(): Promise<void> {
    const check = this.#staleCheck;
    if (!check || this.#byTenant.size === 0) return;
    const procs = [...this.#byTenant.values()];
    let stale: { tenantId: string; reason: RetireReason }[];
    try {
      stale = await check(procs.map((p) => ({ tenantId: p.tenantId, sessionId: p.sessionId })));
    } catch (error) {
      this.options.log.warn("warm pool: the stale check failed", { error });
      return;
    }
    for (const { tenantId, reason } of stale) {
      // Only the process that was checked (a new one may have taken its place meanwhile).
      const proc = this.#byTenant.get(tenantId);
      if (proc && procs.includes(proc) && !proc.busy) this.retire(proc, reason);
    }
  }

  /** Starts the periodic check: idle processes, and those of paused or archived tenants. */
  start(): void {
    const every = this.options.sweepEveryMs ?? Math.min(60_000, Math.max(1000, Math.floor(this.options.idleMs / 10)));
    this.#timer ??= setInterval(() => {
      this.sweep();
      void this.retireStale();
    }, every);
    this.#timer.unref?.();
  }

  /**
   * Ends every process and waits for them to be gone. Turns still running are cut (the dispatcher stopped first
   * and gave them its grace); no new process joins afterwards.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const proc of [...this.#byTenant.values()]) {
      if (proc.busy) void proc.kill();
      this.retire(proc, "server_stopping");
    }
    await Promise.all([...this.#retiring]);
  }

  stats(): WarmPoolStats {
    const procs = [...this.#byTenant.values()];
    return {
      processes: procs.length,
      busy: procs.filter((p) => p.busy).length,
      rssBytes: groupsRssBytes(new Set(procs.map((p) => p.pid))),
      max: this.options.max,
      idleMs: this.options.idleMs,
    };
  }

  #touch(proc: WarmProcess): void {
    proc.lastUsedMs = this.options.clock.now();
    this.#byTenant.delete(proc.tenantId);
    this.#byTenant.set(proc.tenantId, proc);
  }
}

/** False when `pid` is gone or a zombie (Linux /proc); true where /proc cannot tell. */
function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return !existsSync("/proc/self/stat");
  }
  return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/** Sum of VmRSS of every process whose process group is one of `groups` (Linux /proc; 0 elsewhere). */
export function groupsRssBytes(groups: ReadonlySet<number>): number {
  if (groups.size === 0) return 0;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return 0;
  }
  let total = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command (which may hold spaces and parentheses): state ppid pgrp …; rss is the 22nd of them.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (!groups.has(Number(fields[2]))) continue;
      total += Number(fields[21]) * PAGE_BYTES;
    } catch {
      // The process ended while we looked: it holds no memory any more.
    }
  }
  return total;
}

const PAGE_BYTES = 4096;
