import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTask } from "../../src/scheduler/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant } from "../helpers/index.ts";
import { readTask, runRepoFile } from "../scheduler/fixtures.ts";

let t: TestContext;
let tenantId: string;
let otherTenantId: string;
let taskId: string;

beforeAll(async () => {
  t = await createTestContext();
  tenantId = (await insertTenant(t.ctx, { timezone: "Europe/Paris" })).id;
  otherTenantId = (await insertTenant(t.ctx)).id;
  taskId = (await createTask(t.ctx, tenantId, { prompt: "Post the weekly specials", cron: "0 10 * * 5" }, "admin")).id;
  await createTask(t.ctx, otherTenantId, { prompt: "Other tenant's reminder", in_minutes: 30 }, "agent");
});
afterAll(() => t.cleanup());

function run(script: string, ...args: string[]) {
  return runRepoFile(t, `scripts/${script}.ts`, args);
}

describe("CLI", () => {
  test("list-tasks lists every tenant's tasks, or one tenant's", async () => {
    const all = await run("list-tasks");
    expect(all.code).toBe(0);
    expect(all.stdout).toContain("Post the weekly specials");
    expect(all.stdout).toContain("Other tenant's reminder");
    expect(all.stdout).toContain("0 10 * * 5 (Europe/Paris)");
    const one = await run("list-tasks", tenantId, "--json");
    expect(one.code).toBe(0);
    const rows = JSON.parse(one.stdout) as { id: string }[];
    expect(rows.map((r) => r.id)).toEqual([taskId]);
  });

  test("bad arguments exit 2; an unknown tenant exits 1", async () => {
    expect((await run("list-tasks", "--status", "SOON")).code).toBe(2);
    const unknown = await run("list-tasks", crypto.randomUUID());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("tenant_not_found");
  });

  test("cancel-task cancels; with another tenant it is not found", async () => {
    const wrong = await run("cancel-task", taskId, "--tenant", otherTenantId);
    expect(wrong.code).toBe(1);
    expect((await readTask(t.ctx, taskId)).status).toBe("PENDING");
    const res = await run("cancel-task", taskId);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("CANCELLED");
    expect((await readTask(t.ctx, taskId)).status).toBe("CANCELLED");
    expect((await run("cancel-task")).code).toBe(2);
  });
});
