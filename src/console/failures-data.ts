import { sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";

/** A failed agent run: the inbound message it was for, its classified kind and error. */
export interface FailedRun {
  messageId: string;
  tenantId: string;
  tenantName: string;
  at: string;
  /** The runner's classification (timeout, crash, credit_too_low, budget_exceeded, tenant_paused, …). */
  kind: string;
  error: string;
}

/** A reply the channel refused or could not deliver. */
export interface FailedReply {
  messageId: string;
  tenantId: string;
  tenantName: string;
  at: string;
  channel: string;
  error: string;
  errorCode: string | null;
  deliveryStatus: string | null;
}

/** A scheduled task that gave up after its retries. */
export interface FailedTask {
  taskId: string;
  tenantId: string;
  tenantName: string;
  at: string;
  prompt: string;
  error: string;
}

export interface Failures {
  runs: FailedRun[];
  replies: FailedReply[];
  tasks: FailedTask[];
}

/** The newest failures of each kind (each list at most `limit`), with their tenant's name for the link. */
export async function loadFailures(db: Db, limit = 50): Promise<Failures> {
  const runs = await db.all<{
    id: string;
    tenant_id: string;
    name: string;
    created_at: string;
    error: string | null;
  }>(sql`
    SELECT m.id, m.tenant_id, t.name, m.created_at, m.error FROM messages m JOIN tenants t ON t.id = m.tenant_id
    WHERE m.direction = 'in' AND m.status = 'failed' ORDER BY m.created_at DESC LIMIT ${limit}`);
  const replies = await db.all<{
    id: string;
    tenant_id: string;
    name: string;
    created_at: string;
    channel: string;
    error: string | null;
    error_code: string | null;
    delivery_status: string | null;
  }>(sql`
    SELECT m.id, m.tenant_id, t.name, m.created_at, m.channel, m.error, m.error_code, m.delivery_status
    FROM messages m JOIN tenants t ON t.id = m.tenant_id
    WHERE m.direction = 'out' AND (m.status = 'failed' OR m.delivery_status IN ('failed', 'undelivered'))
    ORDER BY m.created_at DESC LIMIT ${limit}`);
  const tasks = await db.all<{
    id: string;
    tenant_id: string;
    name: string;
    updated_at: string;
    prompt: string;
    last_error: string | null;
  }>(sql`
    SELECT s.id, s.tenant_id, t.name, s.updated_at, s.prompt, s.last_error
    FROM scheduled_tasks s JOIN tenants t ON t.id = s.tenant_id
    WHERE s.status = 'FAILED' ORDER BY s.updated_at DESC LIMIT ${limit}`);
  return {
    runs: runs.map((r) => ({
      messageId: r.id,
      tenantId: r.tenant_id,
      tenantName: r.name,
      at: r.created_at,
      ...classifyRunError(r.error ?? ""),
    })),
    replies: replies.map((r) => ({
      messageId: r.id,
      tenantId: r.tenant_id,
      tenantName: r.name,
      at: r.created_at,
      channel: r.channel,
      error: r.error ?? (r.delivery_status ? `the channel reported ${r.delivery_status}` : "unknown"),
      errorCode: r.error_code,
      deliveryStatus: r.delivery_status,
    })),
    tasks: tasks.map((r) => ({
      taskId: r.id,
      tenantId: r.tenant_id,
      tenantName: r.name,
      at: r.updated_at,
      prompt: r.prompt,
      error: r.last_error ?? "",
    })),
  };
}

/** A failed message's `error` is `<kind>: <detail>` (the turn runner's shape) or a bare kind such as `tenant_paused`. */
export function classifyRunError(error: string): { kind: string; error: string } {
  const match = /^([a-z][a-z_]{1,40})(?::\s*([\s\S]*))?$/.exec(error);
  if (match) return { kind: match[1] as string, error: match[2] ?? "" };
  return { kind: "other", error };
}
