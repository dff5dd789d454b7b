import type { SQL } from "drizzle-orm";
import { and, asc, eq, gte, inArray, isNotNull, lte, ne, sql } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { Db } from "../db/index.ts";
import { schema } from "../db/index.ts";
import type { Task } from "./tasks.ts";

const tasks = schema.scheduledTasks;

/**
 * Only tasks of tenants this instance owns (`tenants.instance_id`; a tenant with no owner yet counts
 * as ours): a task runs where its tenant's workspace is. No condition without an instance.
 */
function ownedTasks(instanceId: string | undefined): SQL[] {
  if (instanceId === undefined) return [];
  return [
    sql`EXISTS (SELECT 1 FROM ${schema.tenants} t WHERE t.id = ${tasks.tenant_id} AND (t.instance_id = ${instanceId} OR t.instance_id IS NULL))`,
  ];
}

/** The soonest `next_run_at` of a PENDING, not paused task (one indexed lookup), or null; with `instanceId`, of its tenants' tasks. */
export async function earliestNextRunAt(db: Db, instanceId?: string): Promise<string | null> {
  const rows = await db
    .select({ next_run_at: tasks.next_run_at })
    .from(tasks)
    .where(
      and(
        eq(tasks.status, "PENDING"),
        isNotNull(tasks.next_run_at),
        eq(tasks.paused, false),
        ...ownedTasks(instanceId),
      ),
    )
    .orderBy(asc(tasks.next_run_at))
    .limit(1);
  return rows[0]?.next_run_at ?? null;
}

/**
 * Claims up to `limit` due tasks: PENDING → RUNNING in one conditional UPDATE, only rows still
 * PENDING, not paused and due at `nowMs`, so two processes on one database never claim the same
 * slot. `slot_at` keeps the time the slot was due; `claimed_at` starts the claim's lease. With
 * `instanceId`, only tasks of tenants that instance owns.
 */
export async function claimDueTasks(db: Db, nowMs: number, limit: number, instanceId?: string): Promise<Task[]> {
  const now = isoAt(nowMs);
  const isDue = and(
    eq(tasks.status, "PENDING"),
    eq(tasks.paused, false),
    lte(tasks.next_run_at, now),
    ...ownedTasks(instanceId),
  );
  const due = db.select({ id: tasks.id }).from(tasks).where(isDue).orderBy(asc(tasks.next_run_at)).limit(limit);
  // The re-check must not steer the outer UPDATE onto the (status, next_run_at) index, which would
  // walk every PENDING row: unary `+` keeps those columns out of index choice, so rows are found by id.
  const isStillDue = sql`+${tasks.status} = 'PENDING' AND +${tasks.paused} = 0 AND +${tasks.next_run_at} <= ${now}`;
  return db
    .update(tasks)
    .set({ status: "RUNNING", slot_at: sql`${tasks.next_run_at}`, claimed_at: now, updated_at: now })
    .where(and(inArray(tasks.id, due), isStillDue))
    .returning();
}

/** A claim as its process knows it: the task and the `claimed_at` it last wrote. */
export interface HeldClaim {
  taskId: string;
  claimedAt: string;
}

/**
 * Renews claims this process holds (runs waiting for or inside a turn): each only while the task is
 * still RUNNING under that very claim — once another process has claimed a later slot, the claim is
 * the other's, and keeping it fresh would hide it from recovery if that process dies. With `instanceId`,
 * only while that instance still owns the task's tenant: after move-tenant the run happens on the new
 * owner, which reads its outcome (or, had it stopped first, recovers the claim once it is stale — which
 * it never would be if the old owner kept it fresh). Returns the renewed claims with their new `claimed_at`.
 */
export async function renewClaims(
  db: Db,
  claims: HeldClaim[],
  nowMs: number,
  instanceId?: string,
): Promise<HeldClaim[]> {
  const now = isoAt(nowMs);
  const renewed: HeldClaim[] = [];
  for (const claim of claims) {
    const rows = await db
      .update(tasks)
      .set({ claimed_at: now })
      .where(
        and(
          eq(tasks.id, claim.taskId),
          eq(tasks.status, "RUNNING"),
          eq(tasks.claimed_at, claim.claimedAt),
          ...ownedTasks(instanceId),
        ),
      )
      .returning({ id: tasks.id });
    if (rows.length > 0) renewed.push({ taskId: claim.taskId, claimedAt: now });
  }
  return renewed;
}

/**
 * RUNNING tasks whose claim is older than `ttlMs` (the process that claimed them stopped), oldest first.
 * Runs on every pass, so it must cost what the RUNNING rows cost, not the whole table: once the table
 * has statistics (an operator's `ANALYZE` or `PRAGMA optimize`), SQLite judges `status = 'RUNNING'`
 * by the average status (mostly PENDING or DONE) and would scan every row; INDEXED BY keeps it on the
 * (status, next_run_at) index, which holds exactly the RUNNING rows under that prefix.
 */
export async function findStaleClaims(db: Db, nowMs: number, ttlMs: number, limit: number): Promise<Task[]> {
  const stale = await db.all<{ id: string }>(staleClaimIdsQuery(isoAt(nowMs - ttlMs), limit));
  if (stale.length === 0) return [];
  return db
    .select()
    .from(tasks)
    .where(
      and(
        inArray(
          tasks.id,
          stale.map((r) => r.id),
        ),
        eq(tasks.status, "RUNNING"),
      ),
    )
    .orderBy(asc(tasks.claimed_at));
}

/** Ids of RUNNING tasks claimed before `cutoff`, oldest first, found through the due index only (exported for the plan test). */
export function staleClaimIdsQuery(cutoff: string, limit: number): SQL {
  return sql`SELECT id FROM ${tasks} INDEXED BY scheduled_tasks_due_idx
    WHERE status = 'RUNNING' AND claimed_at < ${cutoff} ORDER BY claimed_at LIMIT ${limit}`;
}

/** The fields a finished, skipped or recovered run writes. */
export type TaskTransition = Partial<
  Pick<Task, "status" | "next_run_at" | "attempts" | "last_error" | "last_run_at" | "claimed_at" | "slot_at">
>;

/**
 * Moves a RUNNING task on (only while it is still RUNNING: a task cancelled meanwhile stays
 * cancelled). With `claimedAt`, only if the claim is still that one. Returns the row, or null if it had moved.
 */
export async function transitionRunning(
  db: Db,
  taskId: string,
  change: TaskTransition,
  nowMs: number,
  claimedAt?: string | null,
): Promise<Task | null> {
  const conditions = [eq(tasks.id, taskId), eq(tasks.status, "RUNNING")];
  if (claimedAt) conditions.push(eq(tasks.claimed_at, claimedAt));
  const [row] = await db
    .update(tasks)
    .set({ ...change, updated_at: isoAt(nowMs) })
    .where(and(...conditions))
    .returning();
  return row ?? null;
}

/**
 * Writes a run's undelivered reply to its task's last_error once the run's outcome is applied: only while
 * the task is not RUNNING (a RUNNING task's outcome is still to be read, and reads the failure itself) and
 * only when the last run applied is the one that queued the message at `since`: its outcome was written
 * after it (last_run_at) and no later slot was claimed since (a claim sets slot_at, at or before its message).
 * Returns the row, or null when it did not apply.
 */
export async function recordReplyFailure(
  db: Db,
  failure: { taskId: string; error: string; since: string },
  nowMs: number,
): Promise<Task | null> {
  const [row] = await db
    .update(tasks)
    .set({ last_error: failure.error.slice(0, 2000), updated_at: isoAt(nowMs) })
    .where(
      and(
        eq(tasks.id, failure.taskId),
        ne(tasks.status, "RUNNING"),
        gte(tasks.last_run_at, failure.since),
        lte(tasks.slot_at, failure.since),
      ),
    )
    .returning();
  return row ?? null;
}
