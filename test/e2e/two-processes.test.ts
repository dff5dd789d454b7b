// Two real server processes on one database file: messages to several tenants arrive at both; never
// two runs of one tenant at once, every message answered once. The agent is the REAL Claude CLI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lastPrompt } from "../fakes/anthropic.ts";
import { eventually, freePort } from "../helpers/index.ts";
import type { Fakes } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "./stack.ts";

const TENANTS = ["alpha", "bravo", "charlie"] as const;
const PER_TENANT = 4;

describe.skipIf(!HAS_REAL_CLI)("two server processes on one database", () => {
  let fakes: Fakes;
  let dir: string;
  let a: StackClient;
  let b: StackClient;
  const active = new Map<string, number>();
  let overlaps = 0;

  beforeAll(async () => {
    fakes = startFakes();
    fakes.anthropic.setHandler(async (req) => {
      const prompt = lastPrompt(req.body) ?? "";
      const tag = TENANTS.find((t) => prompt.includes(`[${t}]`));
      if (!tag) return { type: "text", text: "ok" };
      active.set(tag, (active.get(tag) ?? 0) + 1);
      if (active.get(tag)! > 1) overlaps += 1;
      await Bun.sleep(600);
      active.set(tag, active.get(tag)! - 1);
      const answered = prompt.match(new RegExp(`\\[${tag}\\] m\\d+`, "g")) ?? [];
      return { type: "text", text: `answered ${answered.join(" ")}` };
    });
    dir = mkdtempSync(join(tmpdir(), "proxystaff-two-"));
    const [portA, portB] = [await freePort(), await freePort()];
    const serverA = await spawnServer({ dir, env: stackEnv(fakes, portA) });
    const serverB = await spawnServer({ dir, env: stackEnv(fakes, portB) });
    a = new StackClient(serverA, fakes);
    b = new StackClient(serverB, fakes);
  });
  afterAll(async () => {
    await a?.server.cleanup();
    await b?.server.cleanup();
    await fakes?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test("never two runs of one tenant at once; every message answered once", async () => {
    const chats = new Map<string, number>();
    for (const [i, name] of TENANTS.entries()) {
      const phone = `+1801555060${i}`;
      await (i % 2 ? b : a).createTenant({ name: `Tenant ${name}`, phone });
      const chat = 800600 + i;
      chats.set(name, chat);
      await (i % 2 ? a : b).telegramLink(chat, phone);
    }
    let k = 0;
    for (let m = 0; m < PER_TENANT; m++) {
      await Promise.all(
        TENANTS.map((name) => {
          k += 1;
          return (k % 2 ? a : b).telegramText(chats.get(name)!, `[${name}] m${m}`);
        }),
      );
      await Bun.sleep(150);
    }
    for (const name of TENANTS) {
      await eventually(
        () => {
          const said = a.telegramReplies(chats.get(name)!).join(" ");
          return (
            Array.from({ length: PER_TENANT }, (_, m) => `[${name}] m${m}`).every((t) => said.includes(t)) || undefined
          );
        },
        `all of ${name}'s messages answered`,
        45_000,
      );
    }
    await Bun.sleep(1000);
    expect(overlaps).toBe(0);
    for (const name of TENANTS) {
      const said = a
        .telegramReplies(chats.get(name)!)
        .filter((t) => t.startsWith("answered"))
        .join(" ");
      for (let m = 0; m < PER_TENANT; m++) expect(said.split(`[${name}] m${m}`).length - 1).toBe(1);
    }
    const runsA = a.server.logs().filter((l) => l.msg === "agent run started").length;
    const runsB = b.server.logs().filter((l) => l.msg === "agent run started").length;
    console.info(`agent runs: process A ${runsA}, process B ${runsB}`);
    expect(runsA + runsB).toBeGreaterThanOrEqual(TENANTS.length);
  }, 90_000);
});
