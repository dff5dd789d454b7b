import { afterEach, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClaudeMdCheck } from "../../src/conversation/turn.ts";
import { renderClaudeMd } from "../../src/tenants/claude-md.ts";
import { createTenant, getTenant, workspacePath } from "../../src/tenants/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock } from "../helpers/index.ts";

let t: TestContext | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

test("the cached CLAUDE.md check still follows every change of the row or the file, and leaves a matching file alone", async () => {
  t = await createTestContext({ clock: new FakeClock() });
  const ctx = t.ctx;
  const created = await createTenant(ctx, {
    name: "Acme",
    phone: "+18015550101",
    channel: "telegram",
    timezone: "America/Denver",
  } as never);
  const check = createClaudeMdCheck(ctx);
  const path = join(workspacePath(ctx.config, created.id), "CLAUDE.md");
  const tenant = (await getTenant(ctx.db, created.id))!;

  await check(tenant);
  expect(readFileSync(path, "utf8")).toBe(renderClaudeMd(tenant));
  const stat = statSync(path);
  await check(tenant);
  expect(statSync(path).mtimeMs).toBe(stat.mtimeMs);

  // The runbook's SQL changes the row: the next run sees it.
  const live = { ...tenant, onboarding_status: "LIVE" as const };
  await check(live);
  expect(readFileSync(path, "utf8")).toBe(renderClaudeMd(live));

  // Someone overwrites the file (same row): the next run restores it.
  writeFileSync(path, "# broken\n");
  await check(live);
  expect(readFileSync(path, "utf8")).toBe(renderClaudeMd(live));

  // Back to the earlier row (an operator undo): not mistaken for the first state.
  await check(tenant);
  expect(readFileSync(path, "utf8")).toBe(renderClaudeMd(tenant));
});
