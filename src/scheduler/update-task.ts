import { and, eq } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { schema } from "../db/index.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import { assertPrompt, assertTimezone } from "./schedule.ts";
import { parseInput, taskPatchSchema } from "./task-input.ts";
import type { TaskPatch } from "./task-input.ts";
import { getTask } from "./tasks.ts";
import type { Task, TaskScope } from "./tasks.ts";
import { parseRunAt, requireNextSlot } from "./timing.ts";
import { signalTasksChanged } from "./wake-signal.ts";

const tasks = schema.scheduledTasks;

/**
 * Pauses/resumes a task, changes its schedule (`cron` makes it recurring, `run_at` one-shot),
 * zone or prompt, and re-arms the scheduler. A paused task stays PENDING with no `next_run_at`;
 * resuming computes the next slot from now (a one-shot whose time passed meanwhile runs at once).
 * A RUNNING task accepts only `paused` and `prompt`; DONE, FAILED and CANCELLED tasks none (ConflictError).
 */
export async function updateTask(ctx: AppContext, taskId: string, patch: TaskPatch, scope: TaskScope = {}): Promise<Task> {
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
    throw new ConflictError("task_running", `Task ${taskId} is running now; change its schedule after the run finishes.`);
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
      attempts: isScheduleChange ? 0 : existing.attempts,
      updated_at: isoAt(nowMs),
    })
    .where(and(eq(tasks.id, taskId), eq(tasks.status, existing.status)))
    .returning();
  if (!task) throw new ConflictError("task_changed", `Task ${taskId} changed state meanwhile; read it again and retry.`);
  ctx.log.info("task updated", { tenantId: task.tenant_id, taskId, paused, cron, next_run_at: task.next_run_at });
  signalTasksChanged(ctx.db);
  return task;
}
