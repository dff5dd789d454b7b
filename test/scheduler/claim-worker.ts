// A scheduler process for the two-process claim test: runs the real loop with the real clock for
// `RUN_MS` (waking at least every `MAX_SLEEP_MS`), hands each claimed slot to a stand-in conversation engine that prints
// "CLAIM <taskId> <slot_at>" and reports success at once. Not a test file itself.
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { createContext } from "../../src/runtime.ts";
import { createScheduler, getTask } from "../../src/scheduler/index.ts";
import type { Scheduler } from "../../src/scheduler/loop.ts";

const ctx = await createContext(loadConfig(process.env, { generateSecrets: false }), {
  migrate: false,
  log: createLogger({ level: "warn", write: (line) => process.stderr.write(`${line}\n`) }),
});
let scheduler: Scheduler | undefined;
// Results still on their way when the run time is up are awaited before the database closes (else a
// late applyRunResult meets a closed client and the worker dies of it).
const pending = new Set<Promise<unknown>>();
scheduler = createScheduler(
  ctx,
  {
    async enqueueTask(_tenantId, task) {
      const row = await getTask(ctx.db, task.taskId);
      process.stdout.write(`CLAIM ${task.taskId} ${row.slot_at}\n`);
      const result = Bun.sleep(5).then(() => scheduler?.applyRunResult(task.taskId, { ok: true }));
      pending.add(result);
      void result.finally(() => pending.delete(result));
      return crypto.randomUUID();
    },
  },
  { maxSleepMs: Number(process.env.MAX_SLEEP_MS ?? "60000"), batchSize: 2 },
);
scheduler.service.start();
await Bun.sleep(Number(process.env.RUN_MS ?? "3000"));
await scheduler.service.stop();
await Promise.all(pending);
await ctx.database.close();
