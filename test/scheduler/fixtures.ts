import { eq } from "drizzle-orm";
import type { AppContext } from "../../src/context.ts";
import { schema } from "../../src/db/index.ts";
import type { TaskRow } from "../../src/db/index.ts";
import type { SchedulerDeps } from "../../src/scheduler/index.ts";

let phoneCounter = 0;

/** Inserts a tenant row directly (the scheduler only reads tenants). */
export async function insertTenant(
  ctx: AppContext,
  fields: Partial<Pick<typeof schema.tenants.$inferInsert, "timezone" | "status" | "onboarding_status">> = {},
): Promise<string> {
  const id = crypto.randomUUID();
  phoneCounter++;
  await ctx.db.insert(schema.tenants).values({
    id,
    name: `Tenant ${phoneCounter}`,
    phone_number: `+1555${String(Date.now() % 100000).padStart(5, "0")}${String(phoneCounter).padStart(3, "0")}`,
    channel: "telegram",
    timezone: fields.timezone ?? "UTC",
    status: fields.status ?? "ACTIVE",
    onboarding_status: fields.onboarding_status ?? "LIVE",
  });
  return id;
}

export async function setTenant(
  ctx: AppContext,
  id: string,
  fields: Partial<Pick<typeof schema.tenants.$inferInsert, "status" | "onboarding_status">>,
): Promise<void> {
  await ctx.db.update(schema.tenants).set(fields).where(eq(schema.tenants.id, id));
}

export async function readTask(ctx: AppContext, id: string): Promise<TaskRow> {
  const [row] = await ctx.db.select().from(schema.scheduledTasks).where(eq(schema.scheduledTasks.id, id));
  if (!row) throw new Error(`no task ${id}`);
  return row;
}

/** A stand-in for the conversation engine: records what was queued and the timeline notes. */
export function recordingDeps(options: { failEnqueue?: boolean } = {}) {
  const enqueued: { tenantId: string; taskId: string; prompt: string }[] = [];
  const notes: { tenantId: string; line: string }[] = [];
  const deps: SchedulerDeps = {
    async enqueueTask(tenantId, task) {
      if (options.failEnqueue) throw new Error("queue unavailable");
      enqueued.push({ tenantId, ...task });
      return crypto.randomUUID();
    },
    appendTimeline(tenantId, line) {
      notes.push({ tenantId, line });
    },
  };
  return { deps, enqueued, notes };
}
