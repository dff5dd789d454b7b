import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import type { AgentRunner } from "../../src/agent/index.ts";
import type { AgentResult, AgentRunRequest } from "../../src/agent/runner.ts";
import type { Channel, ChannelName } from "../../src/channels/types.ts";
import { createConversation } from "../../src/conversation/index.ts";
import { insertTaskMessage } from "../../src/scheduler/task-queue.ts";
import type { Tenant } from "../../src/tenants/index.ts";
import { createTenant, ensureClaudeMdCurrent, getTenant, workspacePath } from "../../src/tenants/index.ts";
import { MAX_CLAUDE_MD_BYTES, UnsafeWorkspaceFileError } from "../../src/tenants/workspace-fs.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, rejectionOf } from "../helpers/index.ts";

const OPERATOR_NOTE = "Always answer in French. Never promise delivery before Tuesday.";
const AGENT_NOTE = "The owner prefers voice notes in the morning.";

let t: TestContext;
let tenant: Tenant;
let path: string;

beforeEach(async () => {
  t = await createTestContext();
  tenant = await createTenant(t.ctx, {
    name: "Boulangerie Claire",
    phone: "+18015550910",
    channel: "telegram",
    timezone: "America/Denver",
  });
  path = join(workspacePath(t.ctx.config, tenant.id), "CLAUDE.md");
  // The operator writes standing instructions by hand, the agent keeps a note: both must survive.
  const text = readFileSync(path, "utf8")
    .replace(/(<!-- operator-notes:start -->\n)[\s\S]*?(\n<!-- operator-notes:end -->)/, `$1${OPERATOR_NOTE}$2`)
    .replace(/(<!-- agent-notes:start -->\n)[\s\S]*?(\n<!-- agent-notes:end -->)/, `$1${AGENT_NOTE}$2`);
  writeFileSync(path, text);
});
afterEach(async () => {
  await t.cleanup();
});

/** The runbook's SQL, verbatim but for the id: straight into the database, no API involved. */
async function runbookGoLive(id: string): Promise<Tenant> {
  await t.ctx.db.run(sql.raw(`UPDATE tenants SET onboarding_status = 'LIVE' WHERE id = '${id}'`));
  return (await getTenant(t.ctx.db, id))!;
}

/** Moves the file's mtime into the past, so an unwanted rewrite would show even within one clock tick. */
function ageFile(file: string): number {
  const past = new Date(Date.now() - 3_600_000);
  utimesSync(file, past, past);
  return statSync(file).mtimeMs;
}

describe("ensureClaudeMdCurrent", () => {
  test("after the runbook's SQL the file is re-rendered for LIVE, with the operator's and agent's notes kept", async () => {
    expect(readFileSync(path, "utf8")).toContain("## Onboarding stage: DISCOVERY");
    const live = await runbookGoLive(tenant.id);
    expect(await ensureClaudeMdCurrent(t.ctx, live)).toBe("written");
    const text = readFileSync(path, "utf8");
    expect(text).toContain("## Onboarding stage: LIVE");
    expect(text).not.toContain("## Onboarding stage: DISCOVERY");
    expect(text).toContain(OPERATOR_NOTE);
    expect(text).toContain(AGENT_NOTE);
    expect(
      t.logs.some((l) => l.msg === "CLAUDE.md re-rendered: it did not match the tenant's record" && l.stage === "LIVE"),
    ).toBe(true);
  });

  test("an unchanged tenant's file is not rewritten (same mtime, same inode)", async () => {
    const mtime = ageFile(path); // notes edited by hand (beforeEach) are no difference: they are what a render keeps
    const inode = statSync(path).ino;
    expect(await ensureClaudeMdCurrent(t.ctx, tenant)).toBe("unchanged");
    expect(await ensureClaudeMdCurrent(t.ctx, (await getTenant(t.ctx.db, tenant.id))!)).toBe("unchanged");
    expect(statSync(path).mtimeMs).toBe(mtime);
    expect(statSync(path).ino).toBe(inode);
  });

  test("a missing CLAUDE.md is written; a symlink or FIFO at its place is refused (thrown: the run fails), never read or written through", async () => {
    const outside = join(t.dir, "outside.md");
    writeFileSync(outside, "not the agent's");
    const inside = join(workspacePath(t.ctx.config, tenant.id), "inbox", "other.md");
    writeFileSync(inside, "a file of the workspace");
    rmSync(path);
    expect(await ensureClaudeMdCurrent(t.ctx, tenant)).toBe("written");
    expect(readFileSync(path, "utf8")).toContain("## Onboarding stage: DISCOVERY");

    for (const target of [inside, outside]) {
      rmSync(path);
      symlinkSync(target, path);
      expect(await rejectionOf(ensureClaudeMdCurrent(t.ctx, tenant))).toBeInstanceOf(UnsafeWorkspaceFileError);
      expect(lstatSync(path).isSymbolicLink()).toBe(true);
    }
    expect(readFileSync(inside, "utf8")).toBe("a file of the workspace");
    expect(readFileSync(outside, "utf8")).toBe("not the agent's");
    rmSync(path);
    Bun.spawnSync(["mkfifo", path]);
    expect(await rejectionOf(ensureClaudeMdCurrent(t.ctx, tenant))).toMatchObject({ code: "unsafe_workspace_file" });
    expect(t.logs.some((l) => l.msg === "CLAUDE.md is unsafe: the run is refused")).toBe(true);
  });

  test("a file over the size limit is refused (thrown); a workspace that is gone is logged and left alone", async () => {
    writeFileSync(path, "x".repeat(MAX_CLAUDE_MD_BYTES + 1));
    expect(await rejectionOf(ensureClaudeMdCurrent(t.ctx, tenant))).toMatchObject({ code: "unsafe_workspace_file" });
    expect(statSync(path).size).toBe(MAX_CLAUDE_MD_BYTES + 1);
    rmSync(workspacePath(t.ctx.config, tenant.id), { recursive: true });
    expect(await ensureClaudeMdCurrent(t.ctx, tenant)).toBe("failed");
    expect(existsSync(workspacePath(t.ctx.config, tenant.id))).toBe(false);
  });
});

describe("the conversation turn brings CLAUDE.md up to date before the agent runs", () => {
  test("runbook SQL → the next run's workspace CLAUDE.md says LIVE (notes kept); an unchanged tenant's file is not rewritten", async () => {
    const seen: string[] = [];
    const runner: AgentRunner = {
      run: async (req: AgentRunRequest): Promise<AgentResult> => {
        seen.push(readFileSync(join(req.workspace, "CLAUDE.md"), "utf8"));
        return { kind: "ok", text: "ok", sessionId: "sess-1", durationMs: 1, exitCode: 0 };
      },
    };
    const channel: Channel = { name: "telegram", maxLength: 4096, send: async () => ({ ok: true, externalId: "x" }) };
    const conversation = createConversation(t.ctx, {
      channels: { byName: new Map<ChannelName, Channel>([["telegram", channel]]) },
      outbox: { enqueue: async () => [crypto.randomUUID()] },
      runner,
    });
    await conversation.dispatcher.start();
    try {
      await runbookGoLive(tenant.id);
      await insertTaskMessage(t.ctx, tenant, { taskId: crypto.randomUUID(), prompt: "first run after the SQL" });
      conversation.dispatcher.wake();
      await conversation.dispatcher.idle();
      expect(seen).toHaveLength(1);
      expect(seen[0]).toContain("## Onboarding stage: LIVE");
      expect(seen[0]).toContain(OPERATOR_NOTE);
      expect(seen[0]).toContain(AGENT_NOTE);

      const mtime = ageFile(path);
      await insertTaskMessage(t.ctx, tenant, { taskId: crypto.randomUUID(), prompt: "second run, nothing changed" });
      conversation.dispatcher.wake();
      await conversation.dispatcher.idle();
      expect(seen).toHaveLength(2);
      expect(seen[1]).toBe(seen[0]!);
      expect(statSync(path).mtimeMs).toBe(mtime);
    } finally {
      await conversation.dispatcher.stop();
    }
  });
});
