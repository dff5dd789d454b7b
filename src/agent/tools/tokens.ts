import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../../clock.ts";

/** Who a valid token speaks for: every tool resolves its tenant from this and nothing else. */
export interface ToolCaller {
  tenantId: string;
  runId: string;
  /** Calls made so far in this run, per tool (shared by every request of the run). */
  calls: Map<string, number>;
}

/** A token handed to one agent run; revoke it when the run ends. */
export interface IssuedToken {
  /** The bearer value (43 characters of base64url); never logged. */
  token: string;
  /** Makes the token invalid at once. Idempotent. */
  revoke(): void;
}

interface TokenEntry extends ToolCaller {
  hash: Buffer;
  expiresAtMs: number;
}

/** How many random bytes a token carries. */
const TOKEN_BYTES = 32;

/**
 * In-memory store of per-run MCP tokens. Only SHA-256 hashes are kept, so a heap dump does not
 * hand out live tokens. A token dies when revoked or after `maxAgeMs`, whichever comes first;
 * a restart drops every token (runs in flight are cut by the restart anyway).
 */
export class ToolTokenStore {
  readonly #entries = new Map<string, TokenEntry>();

  constructor(
    private readonly clock: Clock,
    /** Longest a token lives even if never revoked (the run's time limit plus a margin). */
    private readonly maxAgeMs: number,
  ) {}

  /** Issues a fresh random token bound to this tenant and run. */
  issue(tenantId: string, runId: string): IssuedToken {
    this.#prune();
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    const hash = sha256(token);
    const key = hash.toString("hex");
    this.#entries.set(key, { tenantId, runId, calls: new Map(), hash, expiresAtMs: this.clock.now() + this.maxAgeMs });
    return { token, revoke: () => void this.#entries.delete(key) };
  }

  /** The caller a token stands for, or null when it is missing, unknown, revoked or expired. */
  resolve(token: string | null | undefined): ToolCaller | null {
    if (!token) return null;
    const hash = sha256(token);
    const entry = this.#entries.get(hash.toString("hex"));
    // The map lookup is by hash already; the constant-time compare guards against a future change of key.
    if (!entry || !timingSafeEqual(entry.hash, hash)) return null;
    if (entry.expiresAtMs <= this.clock.now()) {
      this.#entries.delete(hash.toString("hex"));
      return null;
    }
    return { tenantId: entry.tenantId, runId: entry.runId, calls: entry.calls };
  }

  /** Number of live tokens (for health output and tests). */
  get size(): number {
    this.#prune();
    return this.#entries.size;
  }

  #prune(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAtMs <= now) this.#entries.delete(key);
  }
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
