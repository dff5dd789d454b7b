import { and, asc, count, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import type { Db, TaskRow } from "../db/index.ts";
import { schema } from "../db/index.ts";
import { ConflictError, NotFoundError, parseInput, ValidationError } from "../errors.ts";
import { requireTenant } from "../tenants/index.ts";
import { assertMinInterval, assertPrompt, assertTimezone, parseRunAt, requireNextSlot } from "./schedule.ts";

const tasks = schema.scheduledTasks;

/** A scheduled task as stored (and shown by the admin API and tools). */
export type Task = TaskRow;
export type TaskStatus = Task["status"];
export type TaskCreator = Task["created_by"];

/** Limits a lookup to one tenant: a task of another tenant is "not found" and nothing changes. */
export interface TaskScope {
  tenantId?: string;
}

export interface ListTasksFilter extends TaskScope {
  status?: TaskStatus;
  /** At most this many rows. Default 1000. */
  limit?: number;
}

/** Tasks, soonest first (those with no next run last), optionally one tenant's and one status. */
export async function listTasks(db: Db, filter: ListTasksFilter = {}): Promise<Task[]> {
  const conditions = [];
  if (filter.tenantId) conditions.push(eq(tasks.tenant_id, filter.tenantId));
  if (filter.status) conditions.push(eq(tasks.status, filter.status));
  return db
    .select()
    .from(tasks)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(sql`${tasks.next_run_at} IS NULL`, asc(tasks.next_run_at), asc(tasks.created_at))
    .limit(filter.limit ?? 1000);
}

/** The task, or null (also null when `scope.tenantId` is given and the task is another tenant's). */
export async function findTask(db: Db, taskId: string, scope: TaskScope = {}): Promise<Task | null> {
  const rows = await db.select().from(tasks).where(eq(tasks.id, taskId)).limit(1);
  const task = rows[0];
  if (!task || (scope.tenantId && task.tenant_id !== scope.tenantId)) return null;
  return task;
}

/** The task, or a NotFoundError (404 task_not_found) — also for another tenant's task. */
export async function getTask(db: Db, taskId: string, scope: TaskScope = {}): Promise<Task> {
  const task = await findTask(db, taskId, scope);
  if (!task) throw new NotFoundError("task_not_found", `No scheduled task with id ${taskId}.`);
  return task;
}

/**
 * Validates and stores a new task for the tenant, computing its first `next_run_at`, and wakes the
 * scheduler. Recurring: `cron` (+ `timezone`, default the tenant's). One-shot: `run_at` or `in_minutes`.
 * Throws ValidationError naming the field, NotFoundError for an unknown tenant, ConflictError for an archived one.
 */
export async function createTask(
  ctx: AppContext,
  tenantId: string,
  input: NewTaskInput,
  createdBy: TaskCreator,
): Promise<Task> {
  const data = parseInput(newTaskSchema, input);
  assertPrompt(data.prompt);
  const given = (["cron", "run_at", "in_minutes"] as const).filter((k) => data[k] !== undefined);
  if (given.length !== 1) {
    throw new ValidationError(
      given.length === 0
        ? "cron: give a cron pattern (recurring), or run_at / in_minutes (one-shot)."
        : `${given.join(", ")}: give only one of cron, run_at or in_minutes.`,
    );
  }
  const tenant = await requireTenant(ctx.db, tenantId);
  if (tenant.status === "ARCHIVED") throw new ConflictError("tenant_archived", `Tenant ${tenantId} is archived.`);
  const timezone = assertTimezone(data.timezone ?? tenant.timezone);

  const nowMs = ctx.clock.now();
  let runAt: string | null = null;
  let nextMs: number;
  if (data.cron !== undefined) {
    nextMs = requireNextSlot(data.cron, timezone, nowMs);
    // The agent is untrusted (a prompt injection can ask for a per-second task); operators are not.
    if (createdBy === "agent") assertMinInterval(data.cron, timezone, nowMs, ctx.config.TASK_MIN_INTERVAL_S);
  } else {
    nextMs =
      data.run_at !== undefined ? parseRunAt(data.run_at, timezone, nowMs) : nowMs + (data.in_minutes ?? 0) * 60_000;
    runAt = isoAt(nextMs);
  }
  if (createdBy === "agent") await assertPendingRoom(ctx, tenantId);
  const [task] = await ctx.db
    .insert(tasks)
    .values({
      id: crypto.randomUUID(),
      tenant_id: tenantId,
      prompt: data.prompt,
      cron: data.cron?.trim() ?? null,
      run_at: runAt,
      timezone,
      next_run_at: isoAt(nextMs),
      status: "PENDING",
      ...(data.catch_up_window_s !== undefined ? { catch_up_window_s: data.catch_up_window_s } : {}),
      created_by: createdBy,
      created_at: isoAt(nowMs),
      updated_at: isoAt(nowMs),
    })
    .returning();
  if (!task) throw new Error("insert returned no row");
  ctx.log.info("task created", {
    tenantId,
    taskId: task.id,
    createdBy,
    cron: task.cron,
    next_run_at: task.next_run_at,
  });
  signalTasksChanged(ctx.db);
  return task;
}

/**
 * Refuses a new agent task when the tenant already has TASK_MAX_PENDING agent-created tasks still to
 * run (PENDING or RUNNING): ConflictError `task_limit_reached`, which tells the agent how to make room.
 * Operators' tasks neither count nor are refused. Two calls at the very same moment may both pass
 * (count, then insert): the overshoot is bounded by the tool's per-run call limit.
 */
async function assertPendingRoom(ctx: AppContext, tenantId: string): Promise<void> {
  const max = ctx.config.TASK_MAX_PENDING;
  const [row] = await ctx.db
    .select({ n: count() })
    .from(tasks)
    .where(
      and(eq(tasks.tenant_id, tenantId), inArray(tasks.status, ["PENDING", "RUNNING"]), eq(tasks.created_by, "agent")),
    );
  const pending = row?.n ?? 0;
  if (pending >= max) {
    throw new ConflictError(
      "task_limit_reached",
      `This business already has ${pending} scheduled tasks of yours waiting to run (the limit is ${max}); ` +
        "nothing was scheduled. Cancel tasks that are no longer needed (list_tasks, cancel_task) or combine them into one.",
    );
  }
}

/**
 * Cancels a PENDING or RUNNING task (a run already handed to the agent finishes, but the task never
 * runs again). Cancelling a cancelled task returns it unchanged; a DONE or FAILED one is a ConflictError.
 */
export async function cancelTask(ctx: AppContext, taskId: string, scope: TaskScope = {}): Promise<Task> {
  const existing = await getTask(ctx.db, taskId, scope);
  if (existing.status === "CANCELLED") return existing;
  const [task] = await ctx.db
    .update(tasks)
    .set({ status: "CANCELLED", next_run_at: null, updated_at: isoAt(ctx.clock.now()) })
    .where(
      and(eq(tasks.id, taskId), eq(tasks.tenant_id, existing.tenant_id), inArray(tasks.status, ["PENDING", "RUNNING"])),
    )
    .returning();
  if (!task) {
    const now = await getTask(ctx.db, taskId, scope);
    if (now.status === "CANCELLED") return now;
    throw new ConflictError(
      "task_finished",
      `Task ${taskId} is already ${now.status}; only PENDING or RUNNING tasks can be cancelled.`,
    );
  }
  ctx.log.info("task cancelled", { tenantId: task.tenant_id, taskId });
  signalTasksChanged(ctx.db);
  return task;
}

/**
 * Pauses/resumes a task, changes its schedule (`cron` makes it recurring, `run_at` one-shot),
 * zone or prompt, and re-arms the scheduler. A paused task stays PENDING with no `next_run_at`;
 * resuming computes the next slot from now (a one-shot whose time passed meanwhile runs at once).
 * A RUNNING task accepts only `paused` and `prompt`; DONE, FAILED and CANCELLED tasks none (ConflictError).
 */
export async function updateTask(
  ctx: AppContext,
  taskId: string,
  patch: TaskPatch,
  scope: TaskScope = {},
): Promise<Task> {
  const change = parseInput(taskPatchSchema, patch);
  const existing = await getTask(ctx.db, taskId, scope);
  if (existing.status !== "PENDING" && existing.status !== "RUNNING") {
    throw new ConflictError("task_finished", `Task ${taskId} is ${existing.status}; it can no longer be changed.`);
  }
  if (change.cron !== undefined && change.run_at !== undefined) {
    throw new ValidationError("cron, run_at: give only one of cron (recurring) or run_at (one-shot).");
  }
  if (change.prompt !== undefined) assertPrompt(change.prompt);
  const isScheduleChange = change.cron !== undefined || change.run_at !== undefined || change.timezone !== undefined;
  if (existing.status === "RUNNING" && isScheduleChange) {
    throw new ConflictError(
      "task_running",
      `Task ${taskId} is running now; change its schedule after the run finishes.`,
    );
  }

  const nowMs = ctx.clock.now();
  const timezone = change.timezone === undefined ? existing.timezone : assertTimezone(change.timezone);
  const cron = change.cron?.trim() ?? (change.run_at !== undefined ? null : existing.cron);
  const runAt =
    change.run_at !== undefined
      ? isoAt(parseRunAt(change.run_at, timezone, nowMs))
      : change.cron !== undefined
        ? null
        : existing.run_at;
  const paused = change.paused ?? existing.paused;
  const isResume = existing.paused && !paused;

  let nextRunAt = existing.next_run_at;
  if (existing.status === "PENDING") {
    if (paused) nextRunAt = null;
    else if (cron && (isScheduleChange || isResume)) nextRunAt = isoAt(requireNextSlot(cron, timezone, nowMs));
    else if (!cron && (isScheduleChange || isResume)) nextRunAt = runAt;
  }

  const [task] = await ctx.db
    .update(tasks)
    .set({
      prompt: change.prompt ?? existing.prompt,
      cron,
      run_at: runAt,
      timezone,
      paused,
      next_run_at: nextRunAt,
      catch_up_window_s: change.catch_up_window_s ?? existing.catch_up_window_s,
      attempts: isScheduleChange ? 0 : existing.attempts,
      updated_at: isoAt(nowMs),
    })
    .where(and(eq(tasks.id, taskId), eq(tasks.status, existing.status)))
    .returning();
  if (!task)
    throw new ConflictError("task_changed", `Task ${taskId} changed state meanwhile; read it again and retry.`);
  ctx.log.info("task updated", { tenantId: task.tenant_id, taskId, paused, cron, next_run_at: task.next_run_at });
  signalTasksChanged(ctx.db);
  return task;
}

/** Longest catch-up window a task may have: 7 days. */
export const MAX_CATCH_UP_WINDOW_S = 7 * 24 * 3600;

/**
 * What a new task looks like at every boundary (admin API, MCP tool, CLI). Exactly one of
 * `cron`, `run_at` or `in_minutes` must be given; `createTask` checks that and the semantics
 * (valid pattern, known zone, future time, prompt size) and names the field when something is wrong.
 */
export const newTaskShape = {
  prompt: z.string().describe("What the agent should do when the task fires (at most 8 KiB)."),
  cron: z
    .string()
    .optional()
    .describe('Recurring schedule: 5-field cron ("0 9 * * 1-5" = weekdays 09:00) or 6 fields with seconds first.'),
  timezone: z.string().optional().describe("IANA time zone for cron and run_at without offset; default the tenant's."),
  run_at: z
    .string()
    .optional()
    .describe('One-shot: ISO-8601 time ("2026-12-01T09:00:00Z", or without offset = local time in timezone).'),
  in_minutes: z.number().int().positive().max(525_600).optional().describe("One-shot: this many minutes from now."),
  catch_up_window_s: z
    .number()
    .int("catch_up_window_s must be a whole number of seconds")
    .min(0, "catch_up_window_s must be at least 0 (0 = never catch up)")
    .max(MAX_CATCH_UP_WINDOW_S, `catch_up_window_s must be at most ${MAX_CATCH_UP_WINDOW_S} (7 days)`)
    .optional()
    .describe(
      "Recurring: a slot missed (server down) longer ago than this many seconds is skipped instead of run late; default 3600, 0 = never catch up.",
    ),
};
export const newTaskSchema = z.object(newTaskShape);
export type NewTaskInput = z.infer<typeof newTaskSchema>;

/** A change to an existing task: pause/resume, a new schedule, zone or prompt. */
export const taskPatchSchema = z.object({
  paused: z.boolean().optional(),
  cron: z.string().optional(),
  run_at: z.string().optional(),
  timezone: z.string().optional(),
  prompt: z.string().optional(),
  catch_up_window_s: newTaskShape.catch_up_window_s,
});
export type TaskPatch = z.infer<typeof taskPatchSchema>;

// Schedulers listening for task changes, per database: createTask/updateTask/cancelTask are called
// by the admin API and the MCP tools, which hold the context but not the scheduler itself.
const listeners = new WeakMap<Db, Set<() => void>>();

/** Registers `wake` to be called whenever a task on `db` is added, changed or cancelled; returns the undo. */
export function onTasksChanged(db: Db, wake: () => void): () => void {
  const set = listeners.get(db) ?? new Set<() => void>();
  listeners.set(db, set);
  set.add(wake);
  return () => set.delete(wake);
}

/** Tells this process's schedulers on `db` to re-arm their timer (other processes find it within 60 s). */
export function signalTasksChanged(db: Db): void {
  for (const wake of listeners.get(db) ?? []) wake();
}
