import { afterEach, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import type { AppContext } from "../../src/context.ts";
import { messages } from "../../src/db/schema.ts";
import { findTaskRunResult, insertTaskMessage, isTaskMessageOpen } from "../../src/scheduler/task-queue.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";

let tc: TestContext;
let ctx: AppContext;
afterEach(async () => tc?.cleanup());

test("a task message's outcome is found from its slot on: open, then done or failed", async () => {
  tc = await createTestContext({ clock: new FakeClock() });
  ctx = tc.ctx;
  const tenant = await insertTenant(ctx, { telegram_chat_id: "42" });
  const taskId = crypto.randomUUID();
  const slot = new Date(ctx.clock.now()).toISOString();

  expect(await findTaskRunResult(ctx, taskId, slot)).toBeNull();
  const id = await insertTaskMessage(ctx, tenant, { taskId, prompt: "Remind me about the invoices" });
  expect(await isTaskMessageOpen(ctx, taskId)).toBe(true);
  expect(await findTaskRunResult(ctx, taskId, slot)).toBeNull();

  await ctx.db.update(messages).set({ status: "done" }).where(eq(messages.id, id));
  expect(await isTaskMessageOpen(ctx, taskId)).toBe(false);
  expect(await findTaskRunResult(ctx, taskId, slot)).toEqual({ ok: true });

  await ctx.db.update(messages).set({ status: "failed", error: "timeout" }).where(eq(messages.id, id));
  expect(await findTaskRunResult(ctx, taskId, slot)).toEqual({ ok: false, error: "timeout" });

  // A message from an earlier slot says nothing about a later one.
  const later = new Date(ctx.clock.now() + 60_000).toISOString();
  expect(await findTaskRunResult(ctx, taskId, later)).toBeNull();
});

test("with the task's tenant, the recovery lookups stay on that tenant's index instead of scanning every message", async () => {
  tc = await createTestContext({ clock: new FakeClock() });
  ctx = tc.ctx;
  const tenant = await insertTenant(ctx, { telegram_chat_id: "43" });
  const taskId = crypto.randomUUID();
  const slot = new Date(ctx.clock.now()).toISOString();
  const id = await insertTaskMessage(ctx, tenant, { taskId, prompt: "Weekly report" });
  await ctx.db.update(messages).set({ status: "done" }).where(eq(messages.id, id));
  expect(await findTaskRunResult(ctx, taskId, slot, tenant.id)).toEqual({ ok: true });
  expect(await findTaskRunResult(ctx, taskId, slot, crypto.randomUUID())).toBeNull();
  expect(await isTaskMessageOpen(ctx, taskId, tenant.id)).toBe(false);

  const plan = await ctx.db.all<{ detail: string }>(
    sql`EXPLAIN QUERY PLAN SELECT status FROM messages WHERE tenant_id = ${tenant.id} AND direction = 'in' AND task_id = ${taskId} AND created_at >= ${slot} ORDER BY created_at DESC LIMIT 1`,
  );
  const details = plan.map((p) => p.detail).join(" | ");
  expect(details).toContain("USING INDEX");
  expect(details).not.toMatch(/SCAN messages(?! USING)/);
});
