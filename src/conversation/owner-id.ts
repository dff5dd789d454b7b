import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/**
 * This process's lease owner id: "<host>:<pid>:<random>". Random per start, so a restarted process
 * never mistakes an old claim for its own; host and pid let it recognise claims of its own dead
 * previous life on the same machine (and free them at once instead of waiting for the lease TTL).
 */
export function newOwnerId(pid: number = process.pid, host: string = hostname()): string {
  return `${host}:${pid}:${randomBytes(6).toString("hex")}`;
}

let processOwner: string | undefined;

/**
 * One owner id for the whole process (made on first use): the outbox claims replies with it, so
 * several outboxes in one process never judge each other dead, while a restart sees its previous
 * life's claims as dead (same host, that pid gone or reused by itself).
 */
export function processOwnerId(): string {
  processOwner ??= newOwnerId();
  return processOwner;
}

/**
 * True when `owner` was a process on this host that is certainly gone: its pid is not running, or
 * its pid is ours (pids are unique among live processes, so that was a previous life). Owners on
 * other hosts are never judged dead here: only their lease expiry frees them.
 */
export function isDeadLocalOwner(
  owner: string,
  self: string,
  isPidAlive: (pid: number) => boolean = pidAlive,
): boolean {
  if (owner === self) return false;
  const [host, pidText] = owner.split(":");
  const [selfHost, selfPid] = self.split(":");
  if (host !== selfHost || !pidText || !/^\d+$/.test(pidText)) return false;
  if (pidText === selfPid) return true;
  return !isPidAlive(Number(pidText));
}

/**
 * True when `owner` was a process on this host, other than this one, whose pid is no longer running.
 * Without knowing this process's own owner ids, a claim with our pid is never judged gone here.
 */
export function isGoneLocalOwner(owner: string, isPidAlive: (pid: number) => boolean = pidAlive): boolean {
  const [host, pidText] = owner.split(":");
  if (host !== hostname() || !pidText || !/^\d+$/.test(pidText)) return false;
  const pid = Number(pidText);
  return pid !== process.pid && !isPidAlive(pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else; only ESRCH means gone.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
