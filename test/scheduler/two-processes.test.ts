import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTask } from "../../src/scheduler/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant } from "../helpers/index.ts";
import { runRepoFile } from "./fixtures.ts";

// Two real processes run the scheduler loop on one database file: every slot runs exactly once.
let t: TestContext;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(() => t.cleanup());

async function worker(runMs: number) {
  const { stdout, stderr, code } = await runRepoFile(t, "test/scheduler/claim-worker.ts", [], {
    RUN_MS: String(runMs),
    // Wake often, so that both processes race for every slot (normally the other process only
    // learns of a change at its sanity wake).
    MAX_SLEEP_MS: "50",
  });
  return [stdout, stderr, code] as const;
}

test("two scheduler processes on one database run each slot once", async () => {
  const tenantId = (await insertTenant(t.ctx)).id;
  const everySecond = await Promise.all(
    [0, 1, 2, 3, 4].map((i) =>
      createTask(t.ctx, tenantId, { prompt: `every second ${i}`, cron: "* * * * * *" }, "admin"),
    ),
  );
  const [[outA, errA, codeA], [outB, errB, codeB]] = await Promise.all([worker(3500), worker(3500)]);
  // A worker that failed says why (its stderr) in the test's output.
  if (codeA !== 0 || codeB !== 0)
    console.error(`worker A exited ${codeA}:\n${errA}\nworker B exited ${codeB}:\n${errB}`);
  expect(codeA).toBe(0);
  expect(codeB).toBe(0);
  expect(errA + errB).not.toContain('"level":"error"');
  const claims = `${outA}${outB}`.split("\n").filter((l) => l.startsWith("CLAIM "));
  const slots = claims.map((l) => l.slice("CLAIM ".length));
  expect(new Set(slots).size).toBe(slots.length); // no (task, slot) claimed twice
  for (const task of everySecond) {
    expect(slots.filter((s) => s.startsWith(task.id)).length).toBeGreaterThanOrEqual(2);
  }
  // Both processes took part (each got at least one slot) — otherwise the test proves little.
  expect(outA.includes("CLAIM ") && outB.includes("CLAIM ")).toBe(true);
});
