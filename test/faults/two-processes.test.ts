// Fault: two server processes share one database file and one tenants folder, and both take webhooks.
// No tenant may ever have two agent runs at once, every message is answered once, every due task slot runs once.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ADMIN_KEY,
  createLinkedTenants,
  postAccepted,
  queryDb,
  readStandInEvents,
  replyTally,
  settle,
  standInRuns,
  startFaultRig,
  tagCounts,
} from "./support.ts";

const MESSAGES = 400;
const TENANTS = 8;
const TASKS = 6;

test("two processes on one database: no overlapping runs, every message and task slot once", async () => {
  const rig = startFaultRig("two-processes", "two", (dir) => ({ eventsFile: join(dir, "events.log"), sleepMs: 40 }));
  const { rand, sink } = rig;
  const events = join(rig.dir, "events.log");
  // Same DATA_DIR and TENANTS_DIR for both; each process has its own working folder and log.
  const env = rig.env({ AGENT_MAX_CONCURRENCY: "2" }, { shared: "shared" });
  const a = await rig.startServer(env, { name: "a" });
  const b = await rig.startServer(env, { name: "b" });
  try {
    const tenants = await createLinkedTenants(a, TENANTS);
    const taskTags: string[] = [];
    for (let k = 0; k < TASKS; k++) {
      const tenant = tenants[k % TENANTS]!;
      const tag = `m:task-${k}`;
      const res = await fetch(`${(k % 2 ? b : a).url}/admin/tenants/${tenant.id}/tasks`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          prompt: `Send the daily summary ${tag}`,
          run_at: new Date(Date.now() + 1000 + k * 150).toISOString(),
        }),
      });
      expect(res.status).toBe(201);
      taskTags.push(tag);
    }
    const accepted: number[] = [];
    let next = 0;
    const sender = async () => {
      while (next < MESSAGES) {
        const i = next++;
        const id = 70_000_000 + i;
        const target = rand() < 0.5 ? a : b;
        await postAccepted(target.url, id, tenants[Math.floor(rand() * TENANTS)]!.chatId, `two processes m:${id}`);
        accepted.push(id);
        await Bun.sleep(Math.floor(rand() * 40));
      }
    };
    await Promise.all(Array.from({ length: 6 }, sender));
    const counts = () => tagCounts(sink);
    await settle(a.databaseUrl, "every message and task to be answered", 60_000, 100, () => {
      const c = counts();
      return taskTags.every((t) => c.has(t));
    });

    // Overlap: per tenant, each run must start after the previous one ended.
    const runs = standInRuns(readStandInEvents(events));
    let overlaps = 0;
    for (const tenant of tenants) {
      const own = runs.filter((r) => r.tenantId === tenant.id).sort((x, y) => x.startMs - y.startMs);
      for (let i = 1; i < own.length; i++)
        if (own[i]!.startMs < (own[i - 1]!.endMs ?? Number.POSITIVE_INFINITY)) overlaps++;
    }
    const tally = await replyTally(sink, a.databaseUrl, accepted);
    const c = counts();
    const taskRuns = taskTags.map((t) => c.get(t) ?? 0);
    const taskRows = await queryDb<{ status: string }>(a.databaseUrl, "SELECT status FROM scheduled_tasks");
    console.log(
      `two-processes: ${runs.length} agent runs, ${overlaps} overlapping; ${tally.total} messages, ${tally.answered} answered once, ${tally.failed} failed runs, ${tally.lost.length} lost, ${tally.duplicated.length} duplicated; ${TASKS} task slots, runs per slot [${taskRuns.join(",")}]`,
    );
    expect(overlaps).toBe(0);
    expect(tally.lost).toEqual([]);
    expect(tally.duplicated).toEqual([]);
    expect(taskRuns).toEqual(taskTags.map(() => 1));
    expect(taskRows.map((r) => r.status)).toEqual(taskTags.map(() => "DONE"));
    // Both processes ran agents (their logs say so).
    const runsBy = [a, b].map(
      (s) =>
        readFileSync(join(s.dir, "server.log"), "utf8")
          .split("\n")
          .filter((l) => l.includes('"agent run started"')).length,
    );
    expect(runsBy.every((n) => n > 0)).toBe(true);
  } finally {
    await rig.finish(a, b);
  }
}, 120_000);
