// A server killed with SIGKILL mid-run must not leave the run going (its restart runs that turn again).
import { describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { skipWithoutBwrap } from "../helpers/index.ts";
import { liveProcessesInGroup, REAL_CLI } from "./setup.ts";

const hasSetpriv = existsSync("/usr/bin/setpriv");

async function runAndKillParent(mode: string): Promise<{ before: number; after: number }> {
  const parent = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures", "hanging-run.ts"), mode], {
    stdout: "pipe",
    stderr: "ignore",
  });
  const reader = parent.stdout.getReader();
  let text = "";
  while (!/PGID \d+ ROOT \S+\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the child exited early: ${text}`);
    text += new TextDecoder().decode(value);
  }
  const pgid = Number(/PGID (\d+)/.exec(text)?.[1]);
  const root = /ROOT (\S+)/.exec(text)?.[1];
  await Bun.sleep(800);
  const before = liveProcessesInGroup(pgid).length;
  parent.kill("SIGKILL");
  await parent.exited;
  let after = liveProcessesInGroup(pgid).length;
  for (let i = 0; i < 20 && after > 0; i++) {
    await Bun.sleep(100);
    after = liveProcessesInGroup(pgid).length;
  }
  if (root?.includes("ps-agent-")) rmSync(root, { recursive: true, force: true });
  return { before, after };
}

describe.skipIf(!existsSync(REAL_CLI))("runs die with the server", () => {
  test.skipIf(skipWithoutBwrap("orphans of a sandboxed run"))(
    "sandboxed (bwrap --die-with-parent)",
    async () => {
      expect(await runAndKillParent("bwrap")).toEqual({ before: 1, after: 0 });
    },
    15_000,
  );
  test.skipIf(!hasSetpriv)(
    "unsandboxed (setpriv --pdeathsig)",
    async () => {
      expect(await runAndKillParent("none")).toEqual({ before: 1, after: 0 });
    },
    15_000,
  );
});
