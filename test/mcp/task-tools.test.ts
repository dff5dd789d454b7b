import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createTask, getTask, listTasks } from "../../src/scheduler/index.ts";
import type { ToolsFixture } from "./setup.ts";
import { toolsFixture } from "./setup.ts";

function timelineOf(f: ToolsFixture, tenantId: string): string {
  const dir = join(f.ctx.config.TENANTS_DIR, tenantId, "timeline");
  return readdirSync(dir)
    .map((name) => readFileSync(join(dir, name), "utf8"))
    .join("\n");
}

describe("task tools", () => {
  let f: ToolsFixture;
  let tokenA: string;
  beforeEach(async () => {
    f = await toolsFixture();
    tokenA = f.tools.issueToken(f.a.id, "run-a").token;
  });
  afterEach(async () => {
    await f.cleanup();
  });

  test("schedule_task with in_minutes stores an agent task for the token's tenant and wakes the scheduler", async () => {
    const before = Date.now();
    const result = await f.client.call(tokenA, "schedule_task", {
      prompt: "Remind the owner to order flour",
      in_minutes: 30,
    });
    expect(result.isError).toBe(false);
    const [task] = await listTasks(f.ctx.db, { tenantId: f.a.id });
    expect(task).toMatchObject({
      prompt: "Remind the owner to order flour",
      created_by: "agent",
      status: "PENDING",
      cron: null,
    });
    expect(Date.parse(task?.next_run_at ?? "")).toBeGreaterThanOrEqual(before + 30 * 60_000 - 1000);
    expect(result.text).toContain(task?.id ?? "?");
    expect(f.wakes()).toBe(1);
    expect(await listTasks(f.ctx.db, { tenantId: f.b.id })).toHaveLength(0);
    expect(timelineOf(f, f.a.id)).toContain(`Agent tool schedule_task: scheduled task ${task?.id}`);
  });

  test("schedule_task with cron defaults to the tenant's zone; run_at works too", async () => {
    const cron = await f.client.call(tokenA, "schedule_task", { prompt: "Weekday check-in", cron: "0 9 * * 1-5" });
    expect(cron.isError).toBe(false);
    expect(cron.text).toContain("America/Denver");
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const once = await f.client.call(tokenA, "schedule_task", { prompt: "One-off", run_at: at });
    expect(once.isError).toBe(false);
    const tasks = await listTasks(f.ctx.db, { tenantId: f.a.id });
    expect(tasks.map((t) => t.cron ?? t.run_at).sort()).toEqual(["0 9 * * 1-5", at].sort());
  });

  test("schedule_task takes catch_up_window_s (0 = never run late); out of bounds is a tool error", async () => {
    const ok = await f.client.call(tokenA, "schedule_task", {
      prompt: "9 am reminder",
      cron: "0 9 * * *",
      catch_up_window_s: 0,
    });
    expect(ok.isError).toBe(false);
    const [task] = await listTasks(f.ctx.db, { tenantId: f.a.id });
    expect(task?.catch_up_window_s).toBe(0);
    const bad = await f.client.call(tokenA, "schedule_task", {
      prompt: "x",
      cron: "0 9 * * *",
      catch_up_window_s: 10_000_000,
    });
    expect(bad.isError).toBe(true);
    expect(bad.text).toContain("catch_up_window_s");
  });

  test("bad schedules are tool errors that say what to fix, and nothing is stored", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ prompt: "x" }, "exactly one of cron"],
      [{ prompt: "x", cron: "0 9 * * *", in_minutes: 5 }, "exactly one of cron, run_at or in_minutes"],
      [{ prompt: "x", cron: "61 9 * * *" }, "cron"],
      [{ prompt: "x", cron: "0 9 * * *", timezone: "Mars/Olympus" }, "timezone"],
      [{ prompt: "x", run_at: "2001-01-01T00:00:00Z" }, "run_at"],
      [{ prompt: "x", run_at: "next tuesday" }, "run_at"],
      [{ prompt: "", in_minutes: 5 }, "prompt"],
      [{ prompt: "x", in_minutes: 0 }, "in_minutes"],
      [{ prompt: "x".repeat(9000), in_minutes: 5 }, "prompt"],
      [{ in_minutes: 5 }, "prompt"],
    ];
    for (const [args, hint] of cases) {
      const result = await f.client.call(tokenA, "schedule_task", args);
      expect({ args, isError: result.isError }).toEqual({ args, isError: true });
      expect(result.text).toContain(hint);
    }
    expect(await listTasks(f.ctx.db, { tenantId: f.a.id })).toHaveLength(0);
  });

  test("list_tasks shows only the token's tenant, upcoming by default", async () => {
    const mine = await createTask(f.ctx, f.a.id, { prompt: "mine", in_minutes: 10 }, "admin");
    await createTask(f.ctx, f.b.id, { prompt: "theirs", in_minutes: 10 }, "admin");
    const result = await f.client.call(tokenA, "list_tasks", {});
    expect(result.isError).toBe(false);
    expect(result.text).toContain(mine.id);
    expect(result.text).not.toContain("theirs");
    const done = await f.client.call(tokenA, "list_tasks", { status: "DONE" });
    expect(done.text).toBe("No tasks match.");
    const bad = await f.client.call(tokenA, "list_tasks", { status: "SOON" });
    expect(bad.isError).toBe(true);
  });

  test("A's token cannot cancel B's task: 'no such task' and B's task is unchanged", async () => {
    const theirs = await createTask(f.ctx, f.b.id, { prompt: "B's reminder", in_minutes: 10 }, "agent");
    const result = await f.client.call(tokenA, "cancel_task", { task_id: theirs.id });
    expect(result.isError).toBe(true);
    expect(result.text).toContain(`No such task: ${theirs.id}`);
    const after = await getTask(f.ctx.db, theirs.id);
    expect(after).toEqual(theirs);
    const unknown = await f.client.call(tokenA, "cancel_task", { task_id: crypto.randomUUID() });
    expect(unknown.text).toStartWith("No such task");
  });

  test("cancel_task cancels the token's own task; a finished one is a clear error", async () => {
    const mine = await createTask(f.ctx, f.a.id, { prompt: "mine", in_minutes: 10 }, "agent");
    const result = await f.client.call(tokenA, "cancel_task", { task_id: mine.id });
    expect(result).toMatchObject({ isError: false });
    expect((await getTask(f.ctx.db, mine.id)).status).toBe("CANCELLED");
    expect(timelineOf(f, f.a.id)).toContain(`cancelled task ${mine.id}`);
  });

  // Attack (S8): a prompt-injected agent floods the tenant with model runs through its own schedule.
  test("schedule_task refuses per-second and per-minute crons, saying the floor; nothing is stored", async () => {
    for (const cron of ["* * * * * *", "*/1 * * * *", "*/4 * * * *", "0,10,20,30,40,50,51 9 * * *"]) {
      const result = await f.client.call(tokenA, "schedule_task", { prompt: "Say hi", cron });
      expect({ cron, isError: result.isError }).toEqual({ cron, isError: true });
      expect(result.text).toContain("at most once every 5 min");
    }
    expect(await listTasks(f.ctx.db, { tenantId: f.a.id })).toHaveLength(0);
    const ok = await f.client.call(tokenA, "schedule_task", { prompt: "Every 5 minutes is fine", cron: "*/5 * * * *" });
    expect(ok.isError).toBe(false);
  });

  test("the 101st pending agent task is refused with how to make room; operator tasks do not count", async () => {
    for (let i = 0; i < 100; i++)
      await createTask(f.ctx, f.a.id, { prompt: `agent ${i}`, in_minutes: 10 + i }, "agent");
    await createTask(f.ctx, f.a.id, { prompt: "operator's", in_minutes: 10 }, "admin");
    const refused = await f.client.call(tokenA, "schedule_task", { prompt: "one more", in_minutes: 5 });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain("the limit is 100");
    expect(refused.text).toContain("cancel_task");
    expect(await listTasks(f.ctx.db, { tenantId: f.a.id, status: "PENDING" })).toHaveLength(101);
    // Cancelling one makes room again; another tenant has its own allowance.
    const [first] = await listTasks(f.ctx.db, { tenantId: f.a.id });
    await f.client.call(tokenA, "cancel_task", { task_id: first?.id ?? "?" });
    expect((await f.client.call(tokenA, "schedule_task", { prompt: "now it fits", in_minutes: 5 })).isError).toBe(
      false,
    );
    const tokenB = f.tools.issueToken(f.b.id, "run-b").token;
    expect((await f.client.call(tokenB, "schedule_task", { prompt: "B's own", in_minutes: 5 })).isError).toBe(false);
  });
});
