import { eq } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { Db } from "../db/index.ts";
import { appState } from "../db/schema.ts";
import type { HealthPart } from "../ports.ts";

const CREDIT_LOW_KEY = "usage.model_credit_low_since";
/** How the upstream API says the platform's account is out of credit (400 invalid_request_error). */
export const CREDIT_LOW_TEXT = /credit balance is too low/i;

/**
 * The platform's model credit, seen by the gateway (not per tenant): the first "credit balance is too low"
 * answer is stored once in app_state with its time; a later successful answer clears it. A memory copy keeps
 * each request to no query; /health reads the row afresh, so it agrees across processes and a restart.
 */
export class CreditState {
  /** undefined = not read yet; null = fine; text = low since then. */
  private since: string | null | undefined;

  constructor(private readonly db: Db) {}

  /** The time credit was first seen low (ISO), or null. */
  async lowSince(): Promise<string | null> {
    if (this.since === undefined) {
      const rows = await this.db
        .select({ value: appState.value })
        .from(appState)
        .where(eq(appState.key, CREDIT_LOW_KEY));
      this.since = rows[0]?.value ?? null;
    }
    return this.since;
  }

  /** An upstream answer said the credit is too low: recorded once (the first time stays). Returns true when new. */
  async markLow(nowMs: number): Promise<boolean> {
    if ((await this.lowSince()) !== null) return false;
    const at = isoAt(nowMs);
    await this.db.insert(appState).values({ key: CREDIT_LOW_KEY, value: at, updated_at: at }).onConflictDoNothing();
    this.since = undefined; // another process may have been first: its time stays
    await this.lowSince();
    return true;
  }

  /** A model answer succeeded: the credit is fine again. No query when it already was. */
  async markOk(): Promise<boolean> {
    if ((await this.lowSince()) === null) return false;
    await this.db.delete(appState).where(eq(appState.key, CREDIT_LOW_KEY));
    this.since = null;
    return true;
  }

  /** /health: `model: "ok"`, or `"credit_low"` with `model_credit_low_since` (not degraded: the server itself works). */
  async health(): Promise<HealthPart> {
    this.since = undefined; // read afresh: another process may have seen it change
    const since = await this.lowSince();
    return { fields: since ? { model: "credit_low", model_credit_low_since: since } : { model: "ok" } };
  }
}
