import type { AppContext } from "../context.ts";
import { cancelTask, listTasks } from "../scheduler/index.ts";
import type { Task, TaskStatus } from "../scheduler/index.ts";
import { requireTenant } from "../tenants/index.ts";

// What the runbook's task commands do (list-tasks, cancel-task); cli/ parses and prints.

/** list-tasks: scheduled tasks, soonest next run first, of every tenant or of one (which must exist). */
export async function listScheduledTasks(ctx: AppContext, filter: { tenantId?: string; status?: TaskStatus; limit?: number }): Promise<Task[]> {
  if (filter.tenantId) await requireTenant(ctx.db, filter.tenantId);
  return listTasks(ctx.db, filter);
}

/** cancel-task: cancels a PENDING or RUNNING task (with `tenantId`, only that tenant's); a DONE or FAILED one → ConflictError. */
export async function cancelScheduledTask(ctx: AppContext, taskId: string, scope: { tenantId?: string } = {}): Promise<Task> {
  return cancelTask(ctx, taskId, scope);
}
