import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentRunRequest } from "../../src/agent/runner.ts";
import type { Config } from "../../src/config.ts";
import { loadConfig } from "../../src/config.ts";
import type { Logger } from "../../src/log.ts";
import { createLogger } from "../../src/log.ts";

/** A tenant uid for tests that wrap a run by hand: in the tenant range (from 200000), above what test databases allocate. */
export const TEST_UID = 290_000;

/** A fake platform admin key: must never reach an agent. */
export const PLATFORM_ADMIN_KEY = "platform-admin-key-0123456789abcdef";
export const PLATFORM_CREDENTIALS_KEY = Buffer.alloc(32, 7).toString("base64");
export const STAND_IN = join(import.meta.dir, "..", "fakes", "stand-in-agent.sh");
export const REAL_CLI = join(import.meta.dir, "..", "..", "node_modules", ".bin", "claude");

export interface AgentTestSetup {
  root: string;
  config: Config;
  log: Logger;
  logLines: string[];
  workspace(tenantId: string): string;
  request(tenantId: string, prompt: string, extra?: Partial<AgentRunRequest>): AgentRunRequest;
  cleanup(): void;
}

/** Temp DATA_DIR/TENANTS_DIR and a config whose agent talks to `apiUrl` (the fake Anthropic API). */
export function agentSetup(
  env: Record<string, string> = {},
  apiUrl = "http://127.0.0.1:9",
  baseDir = tmpdir(),
): AgentTestSetup {
  const root = mkdtempSync(join(baseDir, "ps-agent-"));
  // mkdtemp makes it 0700: a run as a tenant's uid must pass through to its workspace (the product makes its own
  // DATA_DIR and TENANTS_DIR 0711; the folder above them is the operator's, here the test's).
  chmodSync(root, 0o711);
  const uids = new Map<string, number>();
  const uidOf = (tenantId: string) => uids.get(tenantId) ?? uids.set(tenantId, TEST_UID + 1 + uids.size).get(tenantId)!;
  const config = loadConfig(
    {
      DATA_DIR: join(root, "data"),
      TENANTS_DIR: join(root, "tenants"),
      ADMIN_API_KEY: PLATFORM_ADMIN_KEY,
      CREDENTIALS_KEY: PLATFORM_CREDENTIALS_KEY,
      ANTHROPIC_BASE_URL: apiUrl,
      ANTHROPIC_API_KEY: "sk-ant-fake-platform-key",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      ENABLE_TOOL_SEARCH: "false",
      DISABLE_AUTOUPDATER: "1",
      AGENT_ARGS: "--allowedTools Bash,Read,Write,Edit,Glob,Grep",
      AGENT_SANDBOX: "none",
      // The runner alone, with the platform's login in the agent's env (the gateway is tested in test/gateway/).
      MODEL_GATEWAY: "off",
      ...env,
    },
    { generateSecrets: false },
  );
  const logLines: string[] = [];
  const log = createLogger({ level: "debug", write: (line) => logLines.push(line) });
  const workspace = (tenantId: string) => {
    const dir = join(config.TENANTS_DIR, tenantId);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  return {
    root,
    config,
    log,
    logLines,
    workspace,
    request: (tenantId, prompt, extra = {}) => ({
      tenantId,
      workspace: workspace(tenantId),
      uid: uidOf(tenantId),
      prompt,
      sessionId: null,
      tenantEnv: {},
      timezone: "America/Denver",
      ...extra,
    }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Pids of running (not zombie) processes whose process group is `pgid` (Linux /proc). */
export function liveProcessesInGroup(pgid: number): number[] {
  const live: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && Number(fields[2]) === pgid) live.push(Number(entry));
    } catch {
      // The process exited while we looked: not live.
    }
  }
  return live;
}

/** True when `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
