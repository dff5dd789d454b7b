// Recurring tasks end to end through real server processes, with the REAL Claude CLI scripted by the fake
// Anthropic API and replies at the fake Telegram: a seconds-level cron task fires in successive slots; two
// processes on one database run each slot exactly once; after downtime that missed several slots a restart
// runs the task exactly once, and the timeline says it was late.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lastPrompt, lastToolResult } from "../fakes/anthropic.ts";
import { eventually, freePort } from "../helpers/index.ts";
import {
  agentRunsWith,
  cancelTaskVia,
  createCronTask,
  handOvers,
  linkedTenant,
  listTenantTasks,
  secondsPattern,
  timelineText,
} from "./cron-helpers.ts";
import type { Fakes, ServerProcess } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "./stack.ts";

const TAG = /\[cron-[a-z0-9]+\]/;
const tick = (tag: string) => `tick ${tag}`;
/** A run that times out is retried only a minute later: give the CLI room on a busy machine (the stack's default is 8 s). */
const SLOW_MACHINE_ENV = { AGENT_TIMEOUT_MS: "30000" };

describe.skipIf(!HAS_REAL_CLI)("recurring tasks end to end (real CLI, real server processes)", () => {
  let fakes: Fakes;
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];

  beforeAll(() => {
    fakes = startFakes();
    fakes.anthropic.setHandler((req) => {
      if (lastToolResult(req.body) !== undefined) return undefined; // the tool step: the tool_use's `after`
      const prompt = lastPrompt(req.body) ?? "";
      if (prompt.includes("Every three seconds")) {
        return {
          type: "tool_use",
          name: "mcp__proxystaff__schedule_task",
          input: { prompt: "[cron-agent] say tick", cron: "*/3 * * * * *" },
          after: { type: "text", text: "Ticking every three seconds." },
        };
      }
      const tag = prompt.match(TAG)?.[0];
      return { type: "text", text: tag ? tick(tag) : "ok" };
    });
  });
  afterAll(async () => {
    for (const s of servers) await s.cleanup();
    await fakes?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 30_000);

  async function start(dir: string, env: Record<string, string>): Promise<StackClient> {
    const server = await spawnServer({ dir, env });
    servers.push(server);
    return new StackClient(server, fakes);
  }

  /** On a failure, prints what the servers said about tasks and runs (warnings, errors, hand-overs). */
  async function explained<T>(stacks: StackClient[], body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      for (const s of stacks) {
        const lines = s.server
          .logs()
          .filter((l) => l.level === "warn" || l.level === "error" || /task|agent run/.test(String(l.msg)));
        console.error(`--- ${s.server.url}\n${lines.map((l) => JSON.stringify(l)).join("\n")}\n${s.server.stderr()}`);
      }
      throw err;
    }
  }

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "proxystaff-cron-"));
    dirs.push(dir);
    return dir;
  }

  /** Waits until every hand-over of these tasks has been answered at the fake Telegram (no run left open). */
  async function settled(
    stacks: Record<string, StackClient>,
    tasks: { taskId: string; tag: string; chatId: number }[],
  ) {
    const any = Object.values(stacks)[0]!;
    await eventually(
      () => {
        const given = handOvers(stacks);
        return (
          tasks.every(
            (t) =>
              given.filter((h) => h.taskId === t.taskId).length ===
              any.telegramReplies(t.chatId).filter((r) => r === tick(t.tag)).length,
          ) || undefined
        );
      },
      "every handed-over slot to be answered",
      40_000,
    );
  }

  test("a cron task made by the agent (*/3 seconds) fires in two successive slots; both replies reach Telegram", async () => {
    // The agent's interval floor (TASK_MIN_INTERVAL_S, 300 s by default) is lifted so the test need not wait minutes.
    const stack = await start(tempDir(), {
      ...stackEnv(fakes, await freePort(), SLOW_MACHINE_ENV),
      TASK_MIN_INTERVAL_S: "0",
    });
    const chat = 900701;
    const tenantId = await linkedTenant(stack, "Tick Tock Bakery", "+18015550701", chat);

    await stack.telegramText(chat, "Every three seconds, say tick");
    await eventually(
      () => stack.telegramReplies(chat).find((t) => t === "Ticking every three seconds."),
      "the chat turn's reply",
    );
    const [task] = await listTenantTasks(stack, tenantId);
    expect(task).toMatchObject({ cron: "*/3 * * * * *", created_by: "agent", prompt: "[cron-agent] say tick" });

    await explained([stack], async () => {
      await eventually(
        () => stack.telegramReplies(chat).filter((t) => t === tick("[cron-agent]")).length >= 2 || undefined,
        "two ticks",
        45_000,
      );
      await cancelTaskVia(stack, tenantId, task!.id);
      await settled({ a: stack }, [{ taskId: task!.id, tag: "[cron-agent]", chatId: chat }]);
    });

    const slots = handOvers({ a: stack })
      .filter((h) => h.taskId === task!.id)
      .map((h) => Date.parse(h.slotAt));
    expect(new Set(slots).size).toBe(slots.length);
    const gap = slots[1]! - slots[0]!;
    expect(gap > 0 && gap % 3000 === 0).toBe(true); // slots of the pattern (3 s apart unless a run overran one)
    expect(agentRunsWith(fakes.anthropic, "[cron-agent]")).toBe(slots.length);
    expect(stack.telegramReplies(chat).filter((t) => t === tick("[cron-agent]"))).toHaveLength(slots.length);
    console.info(`cron e2e: ${slots.length} slots run, first gap ${gap} ms`);
  }, 120_000);

  test("two server processes on one database: every slot of three cron tasks runs exactly once", async () => {
    const dir = tempDir();
    const a = await start(dir, stackEnv(fakes, await freePort(), SLOW_MACHINE_ENV));
    const b = await start(dir, stackEnv(fakes, await freePort(), SLOW_MACHINE_ENV));
    // Three tenants whose tasks fire in turn (seconds 0,3,6… / 1,4,7… / 2,5,8…), so that at every slot some
    // task is still PENDING and both processes' timers stay armed for it; half created through each process.
    const patterns = ["*/3 * * * * *", "1-59/3 * * * * *", "2-59/3 * * * * *"];
    const tasks: { taskId: string; tag: string; chatId: number; tenantId: string; via: StackClient }[] = [];
    for (const [i, cron] of patterns.entries()) {
      const via = i % 2 ? b : a;
      const chatId = 900710 + i;
      const tenantId = await linkedTenant(via, `Two Process Shop ${i}`, `+1801555071${i}`, chatId);
      const tag = `[cron-two${i}]`;
      const task = await createCronTask(via, tenantId, `${tag} say tick`, cron);
      tasks.push({ taskId: task.id, tag, chatId, tenantId, via });
    }
    await explained([a, b], async () => {
      await eventually(
        () => {
          const given = handOvers({ a, b });
          return tasks.every((t) => given.filter((h) => h.taskId === t.taskId).length >= 2) || undefined;
        },
        "two slots of every task",
        45_000,
      );
      for (const t of tasks) await cancelTaskVia(t.via, t.tenantId, t.taskId);
      await settled({ a, b }, tasks);
    });
    await Bun.sleep(1000); // a second claim of a slot, if there were one, would show up by now

    const given = handOvers({ a, b });
    const keys = given.map((h) => `${h.taskId}@${h.slotAt}`);
    expect(new Set(keys).size).toBe(keys.length); // no slot handed over twice, by either process
    for (const t of tasks) {
      const slots = given.filter((h) => h.taskId === t.taskId).length;
      expect(agentRunsWith(fakes.anthropic, t.tag)).toBe(slots);
      expect(a.telegramReplies(t.chatId).filter((r) => r === tick(t.tag))).toHaveLength(slots);
      const taskRows = (await a.rows({ tenantId: t.tenantId })).filter((r) => r.kind === "task");
      expect(taskRows.filter((r) => r.direction === "in").map((r) => r.status)).toEqual(Array(slots).fill("done"));
      expect(taskRows.filter((r) => r.direction === "out").map((r) => r.status)).toEqual(Array(slots).fill("sent"));
    }
    const byProcess = (p: string) => given.filter((h) => h.process === p).length;
    console.info(`two processes: ${given.length} slots, claimed by A ${byProcess("a")}, by B ${byProcess("b")}`);
  }, 120_000);

  test("kill -9, several slots missed while down, restart → exactly one catch-up run, noted as late", async () => {
    const dir = tempDir();
    const env = stackEnv(fakes, await freePort(), SLOW_MACHINE_ENV);
    let stack = await start(dir, env);
    const chat = 900720;
    const tenantId = await linkedTenant(stack, "Downtime Diner", "+18015550720", chat);
    // Three slots, 3, 5 and 7 s from the next whole second; the pattern fires again only a minute later.
    const base = Math.ceil(Date.now() / 1000) * 1000;
    const slots = [base + 3000, base + 5000, base + 7000];
    const task = await createCronTask(stack, tenantId, "[cron-late] say tick", secondsPattern(slots));
    expect(Date.parse(task.next_run_at!)).toBe(slots[0]!);
    stack.server.proc.kill("SIGKILL");
    await stack.server.proc.exited;

    await Bun.sleep(Math.max(0, slots[2]! + 500 - Date.now())); // every slot has passed while the server was down
    const first = stack;
    stack = await start(dir, env);
    const [after] = await explained([first, stack], async () => {
      await eventually(
        () => stack.telegramReplies(chat).find((t) => t === tick("[cron-late]")),
        "the catch-up run's reply",
        45_000,
      );
      return eventually(async () => {
        const rows = await listTenantTasks(stack, tenantId);
        return rows[0]?.status === "PENDING" && rows[0].last_run_at ? rows : undefined;
      }, "the task back to PENDING");
    });
    await Bun.sleep(1500); // a second catch-up run, if there were one, would have reached the API by now

    expect(agentRunsWith(fakes.anthropic, "[cron-late]")).toBe(1);
    expect(stack.telegramReplies(chat).filter((t) => t === tick("[cron-late]"))).toHaveLength(1);
    expect(handOvers({ s: stack }).map((h) => Date.parse(h.slotAt))).toEqual([slots[0]!]); // the first missed slot, once
    expect(Date.parse(after!.next_run_at!)).toBe(slots[0]! + 60_000); // the next slot after now: a minute on
    const timeline = timelineText(stack, tenantId);
    expect(timeline).toContain("is running late: due");
    expect(timeline).toContain("2 later slot(s) missed meanwhile; running once now.");
  }, 90_000);
});
