import { TASK_STATUSES } from "../db/schema.ts";
import { UsageError } from "../errors.ts";
import { cancelScheduledTask, listScheduledTasks } from "../ops/runbook.ts";
import type { Task, TaskStatus } from "../scheduler/index.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs } from "./command.ts";

function isTaskStatus(value: string): value is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(value);
}

function schedule(task: Task): string {
  return task.cron ? `${task.cron} (${task.timezone})` : `once at ${task.run_at ?? "?"}`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** Fixed-width text table: one header row, then rows. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

const listTasksCommand: Command = {
  name: "list-tasks",
  summary: "List scheduled tasks, of every tenant or of one",
  help: `Usage: proxystaff list-tasks [tenant-id] [--status STATUS] [--limit N] [--json]

Lists scheduled tasks, soonest next run first (tasks with no next run last).
  tenant-id         only this tenant's tasks
  --status STATUS   only tasks in this status: ${TASK_STATUSES.join(", ")}
  --limit N         at most N tasks (default 200)
  --json            print the rows as JSON instead of a table
A paused task is PENDING with "paused" shown and no next run.`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      status: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length > 1) throw new UsageError("Give at most one tenant id.");
    const status = values.status?.toUpperCase();
    if (status !== undefined && !isTaskStatus(status)) {
      throw new UsageError(`--status must be one of ${TASK_STATUSES.join(", ")}.`);
    }
    const limit = values.limit === undefined ? 200 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new UsageError("--limit must be a whole number from 1 to 10000.");
    const tenantId = positionals[0];
    const tasks = await listScheduledTasks(ctx, { tenantId, status, limit });
    if (values.json) {
      io.out(JSON.stringify(tasks, null, 2));
      return 0;
    }
    if (tasks.length === 0) {
      io.out("No scheduled tasks.");
      return 0;
    }
    const rows = tasks.map((t) => [
      t.id,
      t.tenant_id,
      t.paused ? `${t.status} (paused)` : t.status,
      schedule(t),
      t.next_run_at ?? "-",
      String(t.attempts),
      t.created_by,
      oneLine(t.prompt, 40),
    ]);
    for (const line of table(["ID", "TENANT", "STATUS", "SCHEDULE", "NEXT RUN (UTC)", "TRIES", "BY", "PROMPT"], rows))
      io.out(line);
    io.out(`${tasks.length} task(s).`);
    return 0;
  },
};

const cancelTaskCommand: Command = {
  name: "cancel-task",
  summary: "Cancel a scheduled task so it never runs again",
  help: `Usage: proxystaff cancel-task <task-id> [--tenant TENANT_ID]

Cancels a PENDING or RUNNING task (a run already handed to the agent finishes; the task does
not run again). With --tenant, the task must belong to that tenant. Cancelling an already
cancelled task is fine; a DONE or FAILED task cannot be cancelled (exit code 1).`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, { tenant: { type: "string" } });
    const [taskId, ...rest] = positionals;
    if (!taskId || rest.length > 0) throw new UsageError("Give exactly one task id.");
    const task = await cancelScheduledTask(ctx, taskId, { tenantId: values.tenant });
    io.out(`Task ${task.id} of tenant ${task.tenant_id} is ${task.status}.`);
    return 0;
  },
};

/** The `proxystaff` commands this module adds. */
export const schedulerCommands: Command[] = [listTasksCommand, cancelTaskCommand];
