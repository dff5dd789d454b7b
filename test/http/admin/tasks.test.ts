import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { adminRoutes } from "../../../src/http/admin/index.ts";
import { createApp } from "../../../src/http/app.ts";
import type { TestContext } from "../../helpers/index.ts";
import { createTestContext, FakeClock, insertTenant, TEST_ADMIN_KEY } from "../../helpers/index.ts";

let t: TestContext;
let app: Hono;
let tenantId: string;
let otherTenantId: string;

beforeAll(async () => {
  t = await createTestContext({ clock: new FakeClock(Date.parse("2026-11-26T09:00:00.000Z")) });
  app = createApp(t.ctx, { modules: [adminRoutes(t.ctx)] });
  tenantId = (await insertTenant(t.ctx, { timezone: "Europe/Berlin" })).id;
  otherTenantId = (await insertTenant(t.ctx)).id;
});
afterAll(() => t.cleanup());

function call(method: string, path: string, body?: unknown, key = TEST_ADMIN_KEY) {
  return app.request(path, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe("admin task routes", () => {
  let taskId = "";

  test("POST creates a task in the tenant's zone (201)", async () => {
    const res = await call("POST", `/admin/tenants/${tenantId}/tasks`, { prompt: "Weekly report", cron: "0 9 * * 1" });
    expect(res.status).toBe(201);
    const task = await json(res);
    expect(task).toMatchObject({
      tenant_id: tenantId,
      timezone: "Europe/Berlin",
      created_by: "admin",
      status: "PENDING",
    });
    expect(task.next_run_at).toBe("2026-11-30T08:00:00.000Z");
    taskId = String(task.id);
  });

  test("bad input is 400 naming the field; unknown fields are refused", async () => {
    const bad = await call("POST", `/admin/tenants/${tenantId}/tasks`, { prompt: "x", cron: "every day" });
    expect(bad.status).toBe(400);
    expect(((await json(bad)).error as { message: string }).message).toStartWith("cron:");
    const extra = await call("POST", `/admin/tenants/${tenantId}/tasks`, { prompt: "x", in_minutes: 5, colour: "red" });
    expect(extra.status).toBe(400);
    const notJson = await call("POST", `/admin/tenants/${tenantId}/tasks`, "{oops");
    expect(((await json(notJson)).error as { code: string }).code).toBe("invalid_json");
  });

  test("catch_up_window_s is set on POST and PATCH, shown on the task, and bounded (400)", async () => {
    const own = (await insertTenant(t.ctx)).id;
    const res = await call("POST", `/admin/tenants/${own}/tasks`, {
      prompt: "9 am reminder",
      cron: "0 9 * * *",
      catch_up_window_s: 0,
    });
    expect(res.status).toBe(201);
    const task = await json(res);
    expect(task.catch_up_window_s).toBe(0);
    const patched = await call("PATCH", `/admin/tenants/${own}/tasks/${task.id}`, { catch_up_window_s: 7200 });
    expect(patched.status).toBe(200);
    expect((await json(patched)).catch_up_window_s).toBe(7200);
    const tooBig = await call("PATCH", `/admin/tenants/${own}/tasks/${task.id}`, { catch_up_window_s: 10 ** 9 });
    expect(tooBig.status).toBe(400);
    const negative = await call("POST", `/admin/tenants/${own}/tasks`, {
      prompt: "x",
      cron: "0 9 * * *",
      catch_up_window_s: -5,
    });
    expect(negative.status).toBe(400);
  });

  test("GET lists with ?status= and 404s an unknown tenant", async () => {
    await call("POST", `/admin/tenants/${tenantId}/tasks`, { prompt: "Once", in_minutes: 10 });
    const all = await json(await call("GET", `/admin/tenants/${tenantId}/tasks`));
    expect((all.tasks as unknown[]).length).toBe(2);
    const pending = await json(await call("GET", `/admin/tenants/${tenantId}/tasks?status=PENDING`));
    expect((pending.tasks as { next_run_at: string }[])[0]?.next_run_at).toBe("2026-11-26T09:10:00.000Z");
    expect((await call("GET", `/admin/tenants/${tenantId}/tasks?status=LATE`)).status).toBe(400);
    expect((await call("GET", `/admin/tenants/${crypto.randomUUID()}/tasks`)).status).toBe(404);
    expect((await call("GET", `/admin/tenants/${tenantId}/tasks`, undefined, "wrong-key-wrong-key")).status).toBe(401);
  });

  test("PATCH pauses, resumes and reschedules; another tenant's path is 404", async () => {
    const paused = await json(await call("PATCH", `/admin/tenants/${tenantId}/tasks/${taskId}`, { paused: true }));
    expect(paused).toMatchObject({ paused: true, next_run_at: null, status: "PENDING" });
    const moved = await json(
      await call("PATCH", `/admin/tenants/${tenantId}/tasks/${taskId}`, { paused: false, cron: "0 8 * * *" }),
    );
    expect(moved).toMatchObject({ paused: false, cron: "0 8 * * *", next_run_at: "2026-11-27T07:00:00.000Z" });
    expect((await call("PATCH", `/admin/tenants/${otherTenantId}/tasks/${taskId}`, { paused: true })).status).toBe(404);
    expect(
      (await call("PATCH", `/admin/tenants/${tenantId}/tasks/${taskId}`, { timezone: "Nowhere/City" })).status,
    ).toBe(400);
  });

  test("DELETE cancels; the other tenant cannot; cancelled tasks leave PENDING", async () => {
    expect((await call("DELETE", `/admin/tenants/${otherTenantId}/tasks/${taskId}`)).status).toBe(404);
    const res = await call("DELETE", `/admin/tenants/${tenantId}/tasks/${taskId}`);
    expect(res.status).toBe(200);
    expect((await json(res)).status).toBe("CANCELLED");
    const got = await json(await call("GET", `/admin/tenants/${tenantId}/tasks/${taskId}`));
    expect(got.status).toBe("CANCELLED");
    const pending = await json(await call("GET", `/admin/tenants/${tenantId}/tasks?status=PENDING`));
    expect((pending.tasks as { id: string }[]).some((x) => x.id === taskId)).toBe(false);
    expect((await call("PATCH", `/admin/tenants/${tenantId}/tasks/${taskId}`, { paused: true })).status).toBe(409);
  });

  test("an operator's per-minute task is accepted: the agent's interval floor does not apply to the admin API", async () => {
    const res = await call("POST", `/admin/tenants/${tenantId}/tasks`, { prompt: "Poll the till", cron: "* * * * *" });
    expect(res.status).toBe(201);
    const task = await json(res);
    expect(task).toMatchObject({ created_by: "admin", cron: "* * * * *" });
  });
});

describe("task routes on the admin OpenAPI app", () => {
  test("GET /admin/openapi.json lists every task route with its schemas", async () => {
    const res = await call("GET", "/admin/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      paths: Record<
        string,
        Record<string, { tags?: string[]; requestBody?: unknown; responses: Record<string, unknown> }>
      >;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(Object.keys(doc.paths["/tenants/{id}/tasks"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/tenants/{id}/tasks/{taskId}"] ?? {}).sort()).toEqual(["delete", "get", "patch"]);
    expect(doc.paths["/tenants/{id}/tasks"]!.post!.responses["201"]).toBeDefined();
    expect(Object.keys(doc.components.schemas.NewTask?.properties ?? {}).sort()).toEqual([
      "catch_up_window_s",
      "cron",
      "in_minutes",
      "prompt",
      "run_at",
      "timezone",
    ]);
    expect(doc.components.schemas.ScheduledTask?.properties?.next_run_at).toBeDefined();
    expect(doc.paths["/tenants"]).toBeDefined(); // the tenants' own routes are in the same document
  });

  test("validation errors have the admin API's shape: invalid_input naming the field, invalid_json, 415", async () => {
    const missing = await call("POST", `/admin/tenants/${tenantId}/tasks`, { cron: "0 9 * * *" });
    expect(missing.status).toBe(400);
    expect((await json(missing)).error).toMatchObject({ code: "invalid_input" });
    const extra = await json(
      await call("PATCH", `/admin/tenants/${tenantId}/tasks/${crypto.randomUUID()}`, { colour: "red" }),
    );
    expect(extra.error).toMatchObject({ code: "invalid_input" });
    expect((extra.error as { message: string }).message).toContain("colour");
    const limit = await call("GET", `/admin/tenants/${tenantId}/tasks?limit=0`);
    expect(limit.status).toBe(400);
    expect(((await json(limit)).error as { message: string }).message).toStartWith("limit:");
    const badId = await call("GET", `/admin/tenants/${tenantId}/tasks/not-a-uuid`);
    expect(badId.status).toBe(400);
    expect(((await json(badId)).error as { message: string }).message).toStartWith("taskId:");
    const text = await app.request(`/admin/tenants/${tenantId}/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, "content-type": "text/plain" },
      body: "prompt=hi",
    });
    expect(text.status).toBe(415);
    expect(((await json(text)).error as { code: string }).code).toBe("unsupported_media_type");
    const empty = await call("POST", `/admin/tenants/${tenantId}/tasks`, "");
    expect(empty.status).toBe(400);
    expect(((await json(empty)).error as { code: string }).code).toBe("invalid_json");
  });
});
