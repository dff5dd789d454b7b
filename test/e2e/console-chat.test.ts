// `proxystaff chat <tenant-id>` as a real process beside a running server: the console message goes through
// the same pipeline, dispatcher and REAL Claude CLI, the reply is printed, and the timeline gets the lines.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { lastPrompt } from "../fakes/anthropic.ts";
import { freePort, REPO_ROOT } from "../helpers/index.ts";
import type { Fakes } from "./stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "./stack.ts";

describe.skipIf(!HAS_REAL_CLI)("proxystaff chat (real process, real CLI)", () => {
  let fakes: Fakes;
  let stack: StackClient;

  beforeAll(async () => {
    fakes = startFakes();
    fakes.anthropic.setHandler((req) => ({
      type: "text",
      text: `console says: ${(lastPrompt(req.body) ?? "").split("\n").at(-1)}`,
    }));
    stack = new StackClient(await spawnServer({ env: stackEnv(fakes, await freePort()) }), fakes);
  });
  afterAll(async () => {
    await stack?.server.cleanup();
    await fakes?.stop();
  }, 30_000);

  test("a scripted chat prints the agent's reply and writes the timeline", async () => {
    const tenantId = await stack.createTenant({ name: "Console Candles", phone: "+18015550801" });
    const proc = Bun.spawn(
      [
        process.execPath,
        join(REPO_ROOT, "src/main.ts"),
        "chat",
        tenantId,
        "-m",
        "hello from the terminal",
        "-m",
        "/help",
      ],
      {
        cwd: stack.server.dir,
        env: stack.server.env,
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const [code, out, err] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    expect(code, err).toBe(0);
    expect(out).toContain("console says: hello from the terminal");
    expect(out).toContain("/reset");
    const dir = join(stack.server.tenantsDir, tenantId, "timeline");
    const timeline = readdirSync(dir)
      .map((f) => readFileSync(join(dir, f), "utf8"))
      .join("");
    expect(timeline).toContain("← operator (console): hello from the terminal");
    expect(timeline).toContain("→ reply: console says: hello from the terminal");
    expect(
      (await stack.rows({ tenantId })).filter((r) => r.direction === "in").map((r) => `${r.channel}:${r.status}`),
    ).toEqual(["console:done", "console:done"]);
  }, 30_000);
});
