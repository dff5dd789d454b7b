import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "./clock.ts";

/** A token handed to one agent run; revoke it when the run ends. */
export interface IssuedRunToken {
  /** The secret value (an optional prefix plus 43 characters of base64url); never logged. */
  token: string;
  /** Makes the token invalid at once. Idempotent. */
  revoke(): void;
  /**
   * Binds the token to a later run of the same process (a warm agent's next turn): the caller is built anew for
   * `runId` (usage and per-run counts follow the turn) and the token lives `maxAgeMs` from now. No effect once revoked.
   */
  renew(runId: string): void;
}

export interface RunTokenOptions<T> {
  /** Put before the random part (recognisable in a leak report). Default none. */
  prefix?: string;
  /** What a token stands for, built once at issue: nothing in a request can change it. */
  caller(tenantId: string, runId: string): T;
}

interface Entry<T> {
  caller: T;
  hash: Buffer;
  expiresAtMs: number;
}

/**
 * The live per-run tokens of one kind (the MCP tools', the model gateway's), by SHA-256 hash: a heap dump hands out
 * no live token. A token is bound at issue to one tenant and one run, and dies when revoked (the run ended) or after
 * `maxAgeMs`, whichever comes first; a restart drops every token (its runs die with the process anyway).
 */
export class RunTokenStore<T> {
  readonly #entries = new Map<string, Entry<T>>();

  constructor(
    private readonly clock: Clock,
    /** Longest a token lives even if never revoked (the run's time limit plus a margin). */
    private readonly maxAgeMs: number,
    private readonly options: RunTokenOptions<T>,
  ) {}

  /** Issues a fresh random token bound to this tenant and run. */
  issue(tenantId: string, runId: string): IssuedRunToken {
    this.#prune();
    const token = `${this.options.prefix ?? ""}${randomBytes(32).toString("base64url")}`;
    const hash = sha256(token);
    const key = hash.toString("hex");
    const bind = (id: string) =>
      this.#entries.set(key, {
        caller: this.options.caller(tenantId, id),
        hash,
        expiresAtMs: this.clock.now() + this.maxAgeMs,
      });
    bind(runId);
    let revoked = false;
    return {
      token,
      revoke: () => {
        revoked = true;
        this.#entries.delete(key);
      },
      renew: (id) => {
        if (!revoked) bind(id);
      },
    };
  }

  /** The caller a token stands for, or null when it is missing, unknown, revoked or expired. */
  resolve(token: string | null | undefined): T | null {
    if (!token) return null;
    const hash = sha256(token);
    const entry = this.#entries.get(hash.toString("hex"));
    // The lookup is by hash already; the constant-time compare keeps it so if the key ever changes.
    if (!entry || !timingSafeEqual(entry.hash, hash)) return null;
    if (entry.expiresAtMs <= this.clock.now()) {
      this.#entries.delete(hash.toString("hex"));
      return null;
    }
    return entry.caller;
  }

  /** Number of live tokens (health output and tests). */
  get size(): number {
    this.#prune();
    return this.#entries.size;
  }

  #prune(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAtMs <= now) this.#entries.delete(key);
  }
}

/**
 * Whether `presented` is the secret `expected`, compared in constant time: both are hashed to the same length first,
 * so not even the secret's length leaks (admin key, webhook secrets, form tokens).
 */
export function isSameSecret(expected: string, presented: string): boolean {
  return timingSafeEqual(sha256(expected), sha256(presented));
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
