import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../../context.ts";
import { TASK_STATUSES } from "../../db/schema.ts";
import {
  cancelTask,
  createTask,
  getTask,
  listTasks,
  newTaskShape,
  taskPatchSchema,
  updateTask,
} from "../../scheduler/index.ts";
import { requireTenant } from "../../tenants/index.ts";
import type { AdminApi } from "./api.ts";
import { errorResponses, jsonBody, jsonResponse, TenantIdParams } from "./api.ts";

// The body schemas are rebuilt here from task-input.ts's fields: those were made with plain zod
// (shared with the MCP tool and the CLI) and may predate the OpenAPI extension, so only these
// outer objects get .openapi().
const NewTaskBody = z
  .object(newTaskShape)
  .strict()
  .openapi("NewTask", {
    example: { prompt: "Send me the weekly bookings summary", cron: "0 9 * * 1", timezone: "America/Denver" },
  });

const TaskPatchBody = z
  .object(taskPatchSchema.shape)
  .strict()
  .openapi("TaskPatch", { example: { paused: true } });

const TaskSchema = z
  .object({
    id: z.string().openapi({ format: "uuid" }),
    tenant_id: z.string().openapi({ format: "uuid" }),
    prompt: z.string(),
    cron: z.string().nullable(),
    run_at: z.string().nullable(),
    timezone: z.string().openapi({ example: "America/Denver" }),
    next_run_at: z.string().nullable().openapi({ description: "Next slot (UTC); null when paused or finished" }),
    status: z.enum(TASK_STATUSES),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    created_by: z.enum(["agent", "admin"]),
    paused: z.boolean(),
    slot_at: z.string().nullable(),
    claimed_at: z.string().nullable(),
    last_run_at: z.string().nullable(),
    catch_up_window_s: z.number().int().openapi({
      description:
        "A missed recurring slot older than this many seconds is skipped, not caught up (0 = never catch up)",
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("ScheduledTask");

const TaskList = z.object({ tasks: z.array(TaskSchema) }).openapi("ScheduledTaskList");

const ListQuery = z.object({
  status: z.enum(TASK_STATUSES).optional().openapi({ description: "Only tasks in this status" }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(200)
    .openapi({ description: "At most this many (1-1000, default 200)" }),
});

const TaskParams = TenantIdParams.extend({
  taskId: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a task id (UUID)")
    .openapi({ param: { name: "taskId", in: "path" }, example: "0f6f7a1e-8c2b-4d0e-9a51-2b7c3d4e5f60" }),
});

/**
 * The operators' task routes on the admin OpenAPI app:
 *   GET    /admin/tenants/:id/tasks?status=PENDING&limit=200  → {tasks: [...]}, soonest first
 *   POST   /admin/tenants/:id/tasks   {prompt, cron?, timezone?, run_at?, in_minutes?, catch_up_window_s?} → 201 task
 *   GET    /admin/tenants/:id/tasks/:taskId → task
 *   PATCH  /admin/tenants/:id/tasks/:taskId {paused?, cron?, run_at?, timezone?, prompt?, catch_up_window_s?} → task
 *   DELETE /admin/tenants/:id/tasks/:taskId → the cancelled task
 * A task id of another tenant is 404; unknown body fields are refused (400). Every change re-arms the scheduler.
 */
export function registerTaskRoutes(api: AdminApi, ctx: AppContext): void {
  const path = "/tenants/{id}/tasks";
  const one = `${path}/{taskId}`;
  const tags = ["scheduled tasks"];

  api.openapi(
    createRoute({
      method: "get",
      path,
      tags,
      summary: "List a tenant's scheduled tasks, soonest next run first",
      request: { params: TenantIdParams, query: ListQuery },
      responses: { 200: jsonResponse(TaskList, "Tasks"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { status, limit } = c.req.valid("query");
      await requireTenant(ctx.db, id);
      return c.json({ tasks: await listTasks(ctx.db, { tenantId: id, status, limit }) }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path,
      tags,
      summary: "Schedule a task: exactly one of cron (recurring), run_at or in_minutes (one-shot)",
      request: { params: TenantIdParams, body: jsonBody(NewTaskBody) },
      responses: {
        201: jsonResponse(TaskSchema, "The task, with its first next_run_at"),
        ...errorResponses(400, 401, 404, 415),
      },
    }),
    async (c) => {
      const task = await createTask(ctx, c.req.valid("param").id, c.req.valid("json"), "admin");
      return c.json(task, 201);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: one,
      tags,
      summary: "Read one task",
      request: { params: TaskParams },
      responses: { 200: jsonResponse(TaskSchema, "The task"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const { id, taskId } = c.req.valid("param");
      return c.json(await getTask(ctx.db, taskId, { tenantId: id }), 200);
    },
  );

  api.openapi(
    createRoute({
      method: "patch",
      path: one,
      tags,
      summary: "Pause/resume a task, or change its schedule, time zone or prompt",
      request: { params: TaskParams, body: jsonBody(TaskPatchBody) },
      responses: {
        200: jsonResponse(TaskSchema, "The changed task"),
        ...errorResponses(400, 401, 404, 409, 415),
      },
    }),
    async (c) => {
      const { id, taskId } = c.req.valid("param");
      return c.json(await updateTask(ctx, taskId, c.req.valid("json"), { tenantId: id }), 200);
    },
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: one,
      tags,
      summary: "Cancel a task (it stays listed as CANCELLED)",
      request: { params: TaskParams },
      responses: { 200: jsonResponse(TaskSchema, "The cancelled task"), ...errorResponses(400, 401, 404, 409) },
    }),
    async (c) => {
      const { id, taskId } = c.req.valid("param");
      return c.json(await cancelTask(ctx, taskId, { tenantId: id }), 200);
    },
  );
}
