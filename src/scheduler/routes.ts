import type { Context } from "hono";
import { z } from "zod";
import type { AppContext } from "../context.ts";
import { TASK_STATUSES } from "../db/schema.ts";
import { ValidationError } from "../errors.ts";
import type { RouteModule } from "../http/app.ts";
import { newTaskSchema, parseInput, taskPatchSchema } from "./task-input.ts";
import { cancelTask, createTask, getTask, listTasks } from "./tasks.ts";
import { requireTenant } from "../tenants/index.ts";
import { updateTask } from "./update-task.ts";

const listQuery = z.object({
  status: z.enum(TASK_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (!text.trim()) throw new ValidationError("The request body must be a JSON object.");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError("The request body is not valid JSON.", "invalid_json");
  }
}

/**
 * Operators' task routes on the admin sub-app (already behind the admin key):
 *   GET    /admin/tenants/:id/tasks?status=PENDING&limit=200  → {tasks: [...]}, soonest first
 *   POST   /admin/tenants/:id/tasks   {prompt, cron?, timezone?, run_at?, in_minutes?} → 201 task
 *   GET    /admin/tenants/:id/tasks/:taskId → task
 *   PATCH  /admin/tenants/:id/tasks/:taskId {paused?, cron?, run_at?, timezone?, prompt?} → task
 *   DELETE /admin/tenants/:id/tasks/:taskId → the cancelled task
 * A task id of another tenant is 404. Every change re-arms the scheduler.
 */
export function schedulerRoutes(ctx: AppContext): RouteModule {
  return {
    mount(_app, admin) {
      admin.get("/tenants/:id/tasks", async (c) => {
        const tenantId = c.req.param("id");
        const query = parseInput(listQuery, c.req.query());
        await requireTenant(ctx.db, tenantId);
        return c.json({ tasks: await listTasks(ctx.db, { tenantId, status: query.status, limit: query.limit }) }, 200);
      });
      admin.post("/tenants/:id/tasks", async (c) => {
        const input = parseInput(newTaskSchema.strict(), await jsonBody(c));
        return c.json(await createTask(ctx, c.req.param("id"), input, "admin"), 201);
      });
      admin.get("/tenants/:id/tasks/:taskId", async (c) =>
        c.json(await getTask(ctx.db, c.req.param("taskId"), { tenantId: c.req.param("id") }), 200),
      );
      admin.patch("/tenants/:id/tasks/:taskId", async (c) => {
        const patch = parseInput(taskPatchSchema.strict(), await jsonBody(c));
        return c.json(await updateTask(ctx, c.req.param("taskId"), patch, { tenantId: c.req.param("id") }), 200);
      });
      admin.delete("/tenants/:id/tasks/:taskId", async (c) =>
        c.json(await cancelTask(ctx, c.req.param("taskId"), { tenantId: c.req.param("id") }), 200),
      );
    },
  };
}
