import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AppError } from "../../src/errors.ts";
import { cancelTask, createTask, getTask, listTasks, updateTask } from "../../src/scheduler/index.ts";
import type { NewTaskInput } from "../../src/scheduler/tasks.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant } from "../helpers/index.ts";

let t: TestContext;
let clock: FakeClock;
let tenantId: string;
let otherTenantId: string;

beforeAll(async () => {
  clock = new FakeClock(Date.parse("2026-11-26T09:00:00.000Z"));
  t = await createTestContext({ clock });
  tenantId = (await insertTenant(t.ctx, { timezone: "America/Denver" })).id;
  otherTenantId = (await insertTenant(t.ctx)).id;
});
afterAll(() => t.cleanup());

async function errorOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an error");
}

describe("createTask validation", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["invalid cron", { cron: "61 * * * *" }, "cron"],
    ["cron with 4 fields", { cron: "* * * *" }, "cron"],
    ["cron with 7 fields", { cron: "0 0 9 * * * 2027" }, "cron"],
    ["unknown zone", { cron: "0 9 * * *", timezone: "Mars/Olympus" }, "timezone"],
    ["run_at in the past", { run_at: "2026-11-26T08:59:00Z" }, "run_at"],
    ["run_at not a time", { run_at: "next friday" }, "run_at"],
    ["neither cron nor run_at", {}, "cron"],
    ["both cron and run_at", { cron: "0 9 * * *", run_at: "2026-12-01T09:00:00Z" }, "cron, run_at"],
    ["prompt over 8 KiB", { prompt: "x".repeat(8 * 1024 + 1), in_minutes: 5 }, "prompt"],
    ["empty prompt", { prompt: "  ", in_minutes: 5 }, "prompt"],
    ["in_minutes not positive", { in_minutes: 0 }, "in_minutes"],
    ["prompt not a string", { prompt: 42, in_minutes: 5 }, "prompt"],
  ];
  for (const [name, input, field] of cases) {
    test(name, async () => {
      const err = await errorOf(
        createTask(t.ctx, tenantId, { prompt: "Say hi", ...input } as unknown as NewTaskInput, "admin"),
      );
      expect(err.status).toBe(400);
      expect(err.message.startsWith(`${field}:`)).toBe(true);
    });
  }

  test("unknown tenant is 404", async () => {
    const err = await errorOf(createTask(t.ctx, crypto.randomUUID(), { prompt: "x", in_minutes: 1 }, "admin"));
    expect(err.code).toBe("tenant_not_found");
  });

  test("an operator's 6-field cron (seconds) and a prompt of exactly 8 KiB are accepted", async () => {
    const task = await createTask(t.ctx, tenantId, { prompt: "y".repeat(8 * 1024), cron: "*/30 * * * * *" }, "admin");
    expect(task.next_run_at).toBe("2026-11-26T09:00:30.000Z");
    expect(task.created_by).toBe("admin");
  });

  test("run_at without offset is local time in the tenant's zone; in_minutes counts from now", async () => {
    const local = await createTask(t.ctx, tenantId, { prompt: "x", run_at: "2026-12-01T09:00" }, "admin");
    expect(local.timezone).toBe("America/Denver");
    expect(local.next_run_at).toBe("2026-12-01T16:00:00.000Z");
    expect(local.run_at).toBe(local.next_run_at);
    const soon = await createTask(t.ctx, tenantId, { prompt: "x", in_minutes: 90 }, "admin");
    expect(soon.next_run_at).toBe("2026-11-26T10:30:00.000Z");
  });
});

describe("DST", () => {
  test("daily 09:00 in America/Denver shifts by an hour in UTC across both switches", async () => {
    const spring = new FakeClock(Date.parse("2026-03-06T20:00:00Z"));
    const ctx = { ...t.ctx, clock: spring };
    const task = await createTask(ctx, tenantId, { prompt: "Morning report", cron: "0 9 * * *" }, "admin");
    expect(task.next_run_at).toBe("2026-03-07T16:00:00.000Z"); // MST, UTC-7
    const { nextSlotAfter } = await import("../../src/scheduler/schedule.ts");
    expect(
      new Date(nextSlotAfter("0 9 * * *", "America/Denver", Date.parse("2026-03-07T16:00:00Z"))!).toISOString(),
    ).toBe(
      "2026-03-08T15:00:00.000Z", // MDT, UTC-6 (switch on 8 March)
    );
    expect(
      new Date(nextSlotAfter("0 9 * * *", "America/Denver", Date.parse("2026-10-31T15:00:00Z"))!).toISOString(),
    ).toBe(
      "2026-11-01T16:00:00.000Z", // back to MST (switch on 1 November)
    );
  });
});

describe("update, cancel, list", () => {
  test("a task of another tenant is not found and left unchanged", async () => {
    const task = await createTask(t.ctx, tenantId, { prompt: "x", cron: "0 9 * * 1-5" }, "agent");
    const err = await errorOf(cancelTask(t.ctx, task.id, { tenantId: otherTenantId }));
    expect(err.status).toBe(404);
    const err2 = await errorOf(updateTask(t.ctx, task.id, { paused: true }, { tenantId: otherTenantId }));
    expect(err2.status).toBe(404);
    expect((await getTask(t.ctx.db, task.id)).status).toBe("PENDING");
    expect((await getTask(t.ctx.db, task.id)).paused).toBe(false);
  });

  test("pause clears next_run_at; resume computes the next slot; cancel is final", async () => {
    const task = await createTask(t.ctx, tenantId, { prompt: "x", cron: "0 9 * * *" }, "admin");
    const paused = await updateTask(t.ctx, task.id, { paused: true }, { tenantId });
    expect(paused.paused).toBe(true);
    expect(paused.next_run_at).toBeNull();
    expect(paused.status).toBe("PENDING");
    const resumed = await updateTask(t.ctx, task.id, { paused: false });
    expect(resumed.next_run_at).toBe("2026-11-26T16:00:00.000Z");
    const changed = await updateTask(t.ctx, task.id, { cron: "30 7 * * *", timezone: "Europe/Berlin" });
    expect(changed.next_run_at).toBe("2026-11-27T06:30:00.000Z");
    const oneShot = await updateTask(t.ctx, task.id, { run_at: "2026-11-30T12:00:00Z" });
    expect(oneShot.cron).toBeNull();
    expect(oneShot.next_run_at).toBe("2026-11-30T12:00:00.000Z");
    expect((await errorOf(updateTask(t.ctx, task.id, { cron: "bad" }))).message).toStartWith("cron:");
    const cancelled = await cancelTask(t.ctx, task.id, { tenantId });
    expect(cancelled.status).toBe("CANCELLED");
    expect(cancelled.next_run_at).toBeNull();
    expect((await cancelTask(t.ctx, task.id)).status).toBe("CANCELLED");
    expect((await errorOf(updateTask(t.ctx, task.id, { paused: true }))).code).toBe("task_finished");
  });

  test("listTasks filters by tenant and status, soonest first", async () => {
    const other = await createTask(t.ctx, otherTenantId, { prompt: "o", in_minutes: 5 }, "admin");
    const mine = await listTasks(t.ctx.db, { tenantId, status: "PENDING" });
    expect(mine.every((x) => x.tenant_id === tenantId && x.status === "PENDING")).toBe(true);
    const times = mine.map((x) => x.next_run_at ?? "~");
    expect(times).toEqual([...times].sort());
    expect((await listTasks(t.ctx.db, { tenantId: otherTenantId })).map((x) => x.id)).toEqual([other.id]);
    expect((await listTasks(t.ctx.db, { status: "CANCELLED" })).length).toBeGreaterThan(0);
  });
});
