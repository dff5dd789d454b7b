import { inArray, sql } from "drizzle-orm";
import type { AgentFailureKind } from "../agent/index.ts";
import { isoAt } from "../clock.ts";
import type { Db } from "../db/index.ts";
import { preparedPerDatabase } from "../db/index.ts";
import { appState } from "../db/schema.ts";
import type { HealthPart } from "../ports.ts";
import { queueCounts } from "./queue-store.ts";

const LAST_FAILURE_KEY = "conversation.last_agent_failure";
const LAST_OK_KEY = "conversation.last_agent_ok_at";

/** The most recent failed agent run (kept in app_state, so every process and a restart agree). */
export interface AgentFailureRecord {
  kind: AgentFailureKind;
  at: string;
  tenant_id: string;
  /** The classified error text (never contains secrets: the runner redacts them). */
  error: string;
}

async function put(db: Db, key: string, value: string, nowMs: number): Promise<void> {
  await putStatement(db).run({ key, value, now: isoAt(nowMs) });
}

/** The upsert behind put, prepared once per database: it runs after every agent run. */
const putStatement = preparedPerDatabase((db) =>
  db
    .insert(appState)
    .values({ key: sql.placeholder("key"), value: sql.placeholder("value"), updated_at: sql.placeholder("now") })
    .onConflictDoUpdate({
      target: appState.key,
      set: { value: sql`excluded.value`, updated_at: sql`excluded.updated_at` },
    })
    .prepare(),
);

/** Records a failed run for /health (and, for credit_too_low, the degraded flag until a run succeeds). */
export async function recordAgentFailure(db: Db, failure: AgentFailureRecord, nowMs: number): Promise<void> {
  await put(db, LAST_FAILURE_KEY, JSON.stringify(failure), nowMs);
}

/** Records a successful run (clears the credit-too-low degradation). */
export async function recordAgentSuccess(db: Db, nowMs: number): Promise<void> {
  await put(db, LAST_OK_KEY, isoAt(nowMs), nowMs);
}

/** The stored agent state: last failure (all of it), last success, queue, and whether credit ran out since. */
export interface AgentHealthDetails {
  last_agent_failure: AgentFailureRecord | null;
  last_agent_ok_at: string | null;
  queue: { queued: number; processing: number };
  /** The most recent failure is credit_too_low and no run succeeded since. */
  is_credit_out: boolean;
}

/** Reads the agent's health with every detail (for the admin key's eyes only: tenant id and error text). */
export async function agentHealthDetails(db: Db): Promise<AgentHealthDetails> {
  const rows = await db
    .select({ key: appState.key, value: appState.value })
    .from(appState)
    .where(inArray(appState.key, [LAST_FAILURE_KEY, LAST_OK_KEY]));
  const failureJson = rows.find((r) => r.key === LAST_FAILURE_KEY)?.value;
  const lastOkAt = rows.find((r) => r.key === LAST_OK_KEY)?.value ?? null;
  const failure = failureJson ? parseFailure(failureJson) : null;
  const queue = await queueCounts(db);
  const isCreditOut = failure?.kind === "credit_too_low" && (lastOkAt === null || lastOkAt < failure.at);
  return { last_agent_failure: failure, last_agent_ok_at: lastOkAt, queue, is_credit_out: isCreditOut };
}

function parseFailure(json: string): AgentFailureRecord | null {
  try {
    return JSON.parse(json) as AgentFailureRecord;
  } catch {
    return null; // a hand-edited row: health still answers
  }
}

/**
 * The conversation's public /health fields: queue depth, the last agent failure (kind and time
 * only — which tenant and the error text are behind the admin key, GET /admin/agent-health) and the
 * last success. Degraded while the most recent failure is credit_too_low and no run succeeded since
 * (every agent run would fail the same way).
 */
export async function conversationHealth(db: Db): Promise<HealthPart> {
  const details = await agentHealthDetails(db);
  const failure = details.last_agent_failure;
  return {
    fields: {
      queue: details.queue,
      last_agent_failure: failure ? { kind: failure.kind, at: failure.at } : null,
      last_agent_ok_at: details.last_agent_ok_at,
      ...(details.is_credit_out ? { agent: "credit_too_low: the Claude account has no credit; see the runbook" } : {}),
    },
    degraded: details.is_credit_out,
  };
}
