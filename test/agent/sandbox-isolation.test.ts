// Issue 8: tenant A's agent (the REAL Claude CLI inside bubblewrap, driven by the fake Anthropic API) tries to
// reach tenant B and the platform. Every attempt must fail, and nothing of B or the platform may show up in the
// reply, the API requests or the logs. Positive side: own files persist, resume works, execution/ tools run.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WarmPool } from "../../src/agent/index.ts";
import { createAgentRunner, createWarmPool } from "../../src/agent/index.ts";
import type { ProcessAgentRunner } from "../../src/agent/runner.ts";
import { systemClock } from "../../src/clock.ts";
import type { FakeAnthropic, FakeReply } from "../fakes/anthropic.ts";
import { startFakeAnthropic, userTexts } from "../fakes/anthropic.ts";
import type { AgentTestSetup } from "./setup.ts";
import { agentSetup, PLATFORM_ADMIN_KEY, PLATFORM_CREDENTIALS_KEY, REAL_CLI } from "./setup.ts";

const bwrapPath = Bun.which("bwrap");
const bwrapWorks =
  bwrapPath !== null && Bun.spawnSync([bwrapPath, "--ro-bind", "/", "/", "--unshare-pid", "true"]).exitCode === 0;
const ready = bwrapWorks && existsSync(REAL_CLI);
if (!ready)
  console.warn(
    `skipped (isolation with the real CLI): ${bwrapWorks ? "the real Claude CLI is not installed (npm install)" : "bubblewrap does not work here (not installed, or no user namespaces)"}`,
  );
if (!ready) {
  console.warn(
    `SKIPPED sandbox isolation tests: ${bwrapPath ? "bwrap does not work here (user namespaces?)" : "bubblewrap is not installed (apt-get install -y bubblewrap)"}${existsSync(REAL_CLI) ? "" : "; the Claude CLI is missing (npm install)"}`,
  );
}

const B_SECRET = "tenant-b-secret-value-7f3a";
const A_SECRET = "SG.tenant-a-sendgrid-41c9";
const DB_MARKER = "database-file-marker-55e1";

// Issue 14: a warm process (stream-json, kept between turns) must be exactly as isolated as a cold run.
for (const mode of ["cold", "warm"] as const)
  describe.skipIf(!ready)(`agent sandbox (bubblewrap) with the real Claude CLI (${mode})`, () => {
    let fake: FakeAnthropic;
    let setup: AgentTestSetup;
    let runner: ProcessAgentRunner;
    let pool: WarmPool | undefined;
    let workspaceA: string;
    let workspaceB: string;
    let bFilesBefore: string[];

    beforeAll(() => {
      fake = startFakeAnthropic();
      // Not under /tmp: the sandbox's /tmp is a private tmpfs, so a host tree below it would look like scratch space.
      setup = agentSetup({ AGENT_SANDBOX: "bwrap", AGENT_MEMORY_MB: "4096" }, fake.url, "/var/tmp");
      pool = mode === "warm" ? createWarmPool({ config: setup.config, log: setup.log, clock: systemClock }) : undefined;
      runner = createAgentRunner({ config: setup.config, log: setup.log }, pool ? { warm: pool } : {});
      workspaceA = setup.workspace("tenant-a");
      workspaceB = setup.workspace("tenant-b");
      writeFileSync(join(workspaceB, ".env"), `B_SECRET=${B_SECRET}\n`);
      writeFileSync(join(workspaceB, "notes.md"), "B's notes\n");
      mkdirSync(setup.config.DATA_DIR, { recursive: true });
      writeFileSync(join(setup.config.DATA_DIR, "proxystaff.db"), DB_MARKER);
      writeFileSync(join(setup.config.DATA_DIR, "admin-api-key"), `${PLATFORM_ADMIN_KEY}\n`);
      writeFileSync(join(setup.config.DATA_DIR, "credentials-key"), `${PLATFORM_CREDENTIALS_KEY}\n`);
      mkdirSync(join(workspaceA, "execution"));
      writeFileSync(
        join(workspaceA, "execution", "show_credential.py"),
        [
          "import os, pathlib",
          "env = dict(l.split('=', 1) for l in pathlib.Path('.env').read_text().splitlines() if '=' in l)",
          "print('tool sees', os.environ.get('SENDGRID_API_KEY'), 'and .env', env.get('BUSINESS_NAME'))",
        ].join("\n"),
      );
      writeFileSync(join(workspaceA, ".env"), "BUSINESS_NAME=Acme Plumbing\n");
      bFilesBefore = readdirSync(workspaceB).sort();
    });
    afterAll(async () => {
      await pool?.stop();
      await fake.stop();
      setup.cleanup();
    });

    test("the runner reports the sandbox as on", () => {
      expect(runner.sandbox).toMatchObject({ mode: "bwrap", warning: null });
    });

    test("A's agent cannot reach B, DATA_DIR or the platform; its own work persists; resume works", async () => {
      const { TENANTS_DIR, DATA_DIR } = setup.config;
      const attack = [
        `cat ${join(workspaceB, ".env")}`,
        `ls -la ${TENANTS_DIR}`,
        `ls -la ${DATA_DIR}`,
        `cat ${join(DATA_DIR, "proxystaff.db")} ${join(DATA_DIR, "admin-api-key")} ${join(DATA_DIR, "credentials-key")}`,
        "tr '\\0' '\\n' < /proc/1/environ | grep -c . ",
        `cat /proc/${process.pid}/environ`,
        "echo admin=[$(printenv ADMIN_API_KEY)] creds=[$(printenv CREDENTIALS_KEY)]",
        `echo pwned > ${join(workspaceB, "pwned.txt")}`,
        "grep CapEff /proc/self/status; mknod /tmp/disk b 8 0 && echo MKNOD-WORKED",
      ]
        .map((cmd, i) => `echo "## step ${i}"; ${cmd} 2>&1`)
        .join("; ");
      const chain: FakeReply = {
        type: "tool_use",
        name: "Bash",
        input: { command: attack },
        after: {
          type: "tool_use",
          name: "Read",
          input: { file_path: join(workspaceB, ".env") },
          after: {
            type: "tool_use",
            name: "Write",
            input: { file_path: join(workspaceB, "planted.md"), content: "planted by A" },
            after: {
              type: "tool_use",
              name: "Write",
              input: { file_path: join(workspaceA, "own-note.md"), content: "A's own note" },
              after: {
                type: "tool_use",
                name: "Bash",
                input: { command: "python3 execution/show_credential.py" },
                after: { type: "text", text: "All done." },
              },
            },
          },
        },
      };
      fake.enqueue(chain, { type: "text", text: "Second run answer" });
      const request = setup.request("tenant-a", "first run: try everything", {
        tenantEnv: { SENDGRID_API_KEY: A_SECRET },
      });
      const first = await runner.run(request);
      expect(first).toMatchObject({ kind: "ok", text: "All done." });
      if (first.kind !== "ok") throw new Error("unreachable");

      const results = userTexts(fake.messageRequests().at(-1)?.body);
      const [bash, read, writeB, writeA, tool] = results.slice(1);
      // Bash: nothing of B, DATA_DIR or the server's environment.
      const step = (bash ?? "").split(/## step \d+\n/).slice(1);
      expect(step[0]).toContain("No such file or directory"); // cat B's .env
      expect(step[1]).toContain("tenant-a"); // ls TENANTS_DIR: only A's own mount point
      expect(step[1]).not.toContain("tenant-b");
      expect(step[2]).not.toMatch(/proxystaff\.db|admin-api-key|credentials-key/); // ls DATA_DIR
      expect(step[3]?.match(/No such file or directory/g)).toHaveLength(3); // db and keys
      expect(Number(step[4])).toBeGreaterThan(0); // /proc/1 is the sandbox's own init, with the run's env
      expect(step[5]).toContain("No such file or directory"); // the server's /proc entry
      expect(step[6]).toContain("admin=[] creds=[]");
      expect(step[7]).toMatch(/Read-only file system|No such file or directory/); // write into B
      expect(step[8]).toContain("CapEff:\t0000000000000000"); // no capabilities, even as root: no raw disk
      expect(step[8]).not.toContain("MKNOD-WORKED");
      expect(bash).not.toContain(B_SECRET);
      // Read tool on B's .env and Write tool into B's folder fail.
      expect(read).not.toContain(B_SECRET);
      expect(read).toMatch(/does not exist|not found|No such file|ENOENT/i);
      expect(writeB).toMatch(/EROFS|read-only|Read-only|error/i);
      // Positive: A's own write persists on the host; the execution/ tool runs and sees A's credential and .env.
      expect(writeA).not.toMatch(/error/i);
      expect(readFileSync(join(workspaceA, "own-note.md"), "utf8")).toBe("A's own note");
      expect(tool).toContain(`tool sees ${A_SECRET} and .env Acme Plumbing`);

      // B's folder is unchanged on the host.
      expect(readdirSync(workspaceB).sort()).toEqual(bFilesBefore);
      expect(readFileSync(join(workspaceB, ".env"), "utf8")).toBe(`B_SECRET=${B_SECRET}\n`);

      // A second run resumes the first inside the sandbox (history carried).
      const second = await runner.run({ ...request, prompt: "second run", sessionId: first.sessionId });
      expect(second).toMatchObject({ kind: "ok", text: "Second run answer", sessionId: first.sessionId });
      // The warm variant's second turn ran on the process kept from the first (the same sandbox, still isolated).
      const runLines = setup.logLines.filter((l) => l.includes("agent run finished"));
      expect(runLines.at(-1)).toContain(mode === "warm" ? '"warm":true' : '"warm":false');
      expect(userTexts(fake.messageRequests().at(-1)?.body)).toContain("first run: try everything");

      // Nothing of B or the platform in the API requests or the logs.
      const everything = [...fake.requests.map((r) => r.raw), ...setup.logLines].join("\n");
      for (const secret of [B_SECRET, DB_MARKER, PLATFORM_ADMIN_KEY, PLATFORM_CREDENTIALS_KEY]) {
        expect(everything).not.toContain(secret);
      }
    });
  });
