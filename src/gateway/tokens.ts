import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../clock.ts";

/** Who a model token stands for: one tenant's one run. Nothing in a request can change it. */
export interface ModelCaller {
  tenantId: string;
  runId: string;
}

/** A model token handed to one agent run (as its ANTHROPIC_API_KEY); revoke it when the run ends. */
export interface IssuedModelToken {
  /** The secret value (a `psm-` prefix plus 43 characters of base64url); never logged. */
  token: string;
  /** Makes the token invalid at once. Idempotent. */
  revoke(): void;
}

interface Entry extends ModelCaller {
  hash: Buffer;
  expiresAtMs: number;
}

/** Prefix of every model token: recognisable in a leak report, and never a real Anthropic key. */
const TOKEN_PREFIX = "psm-";

/**
 * The live model tokens of this process, by SHA-256 hash (a heap dump hands out no live token). A token is bound at
 * issue to one tenant and one run, and dies when revoked (the run ended) or after `maxAgeMs`, whichever comes
 * first; a restart drops every token (its runs die with the process anyway).
 */
export class ModelTokenStore {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    /** Longest a token lives even if never revoked (the run's time limit plus a margin). */
    private readonly maxAgeMs: number,
  ) {}

  issue(tenantId: string, runId: string): IssuedModelToken {
    this.#prune();
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
    const hash = sha256(token);
    const key = hash.toString("hex");
    this.#entries.set(key, { tenantId, runId, hash, expiresAtMs: this.clock.now() + this.maxAgeMs });
    return { token, revoke: () => void this.#entries.delete(key) };
  }

  /** The caller a token stands for, or null when it is missing, unknown, revoked or expired. */
  resolve(token: string | null | undefined): ModelCaller | null {
    if (!token) return null;
    const hash = sha256(token);
    const entry = this.#entries.get(hash.toString("hex"));
    // The lookup is by hash already; the constant-time compare keeps it so if the key ever changes.
    if (!entry || !timingSafeEqual(entry.hash, hash)) return null;
    if (entry.expiresAtMs <= this.clock.now()) {
      this.#entries.delete(hash.toString("hex"));
      return null;
    }
    return { tenantId: entry.tenantId, runId: entry.runId };
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

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
