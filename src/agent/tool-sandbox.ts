import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { ResolvedAgentCommand } from "./command.ts";
import type { RunUser } from "./run-user.ts";
import { decideRunUser, PROBE_UID } from "./run-user.ts";
import type { PreparedRun } from "./sandbox.ts";
import { givePrivateScratch, runLimitsFor, sandboxWrapper } from "./sandbox.ts";

/**
 * Wraps a tool's command line: `argv` run in `workspace` as the tenant's `uid` (when the server can switch), with the
 * runs' limits (own cgroup with pids/memory caps, RLIMITs, under bwrap a sized /tmp); dispose() when it ended.
 */
export type ToolWrap = (argv: string[], workspace: string, uid: number) => PreparedRun;

/**
 * How tool health checks are isolated: like agent runs, they execute code the agent can edit, so they run as the
 * tenant's uid (`runUser`) with the runs' limits and, when bubblewrap works, in the same kind of sandbox.
 */
export type ToolSandbox =
  | { mode: "bwrap"; runUser: RunUser; wrap: ToolWrap }
  | { mode: "off"; reason: string; runUser: RunUser; wrap: ToolWrap }
  | { mode: "refused"; reason: string };

/** The tool's files: python3 and its libraries are under /usr (bound read-only anyway). */
const TOOL_FILES: ResolvedAgentCommand = { path: "/usr/bin/python3", ownFiles: "/usr", source: "PATH" };

const decided = new WeakMap<Config, ToolSandbox>();

/**
 * Decides once per config, following AGENT_SANDBOX: "none" → off; otherwise bubblewrap when a
 * probe run works (the tool then sees the system's read-only files and its own workspace only,
 * never DATA_DIR or other tenants); "auto" without a working bwrap → off with a warning;
 * "bwrap" without one → refused (health checks report it instead of running unisolated).
 * Either way a root server runs each tool as its tenant's uid.
 */
export function toolSandbox(config: Config, log?: Logger, runUser: RunUser = decideRunUser(log)): ToolSandbox {
  const known = decided.get(config);
  if (known) return known;
  const sandbox = decide(config, runUser);
  if (sandbox.mode !== "bwrap")
    log?.warn("tool health checks not isolated", { mode: sandbox.mode, reason: sandbox.reason });
  decided.set(config, sandbox);
  return sandbox;
}

function decide(config: Config, runUser: RunUser): ToolSandbox {
  const { limits, cgroups } = runLimitsFor(config);
  const wrapperFor = (mode: "bwrap" | "off", bwrapPath: string | null): ToolWrap => {
    const wrapRun = sandboxWrapper({
      requested: config.AGENT_SANDBOX,
      mode,
      bwrapPath,
      warning: null,
      limits,
      cgroups,
      runUser,
    });
    return (argv, workspace, uid) =>
      wrapRun({ argv, workspace, tenantConfigDir: workspace, platformCredentials: null, command: TOOL_FILES, uid });
  };
  if (config.AGENT_SANDBOX === "none")
    return { mode: "off", reason: "AGENT_SANDBOX=none", runUser, wrap: wrapperFor("off", null) };
  const bwrap = Bun.which("bwrap", { PATH: "/usr/local/bin:/usr/bin:/bin" });
  const failure = bwrap ? probe(wrapperFor("bwrap", bwrap), runUser) : "bwrap is not installed";
  if (bwrap && failure === null) return { mode: "bwrap", runUser, wrap: wrapperFor("bwrap", bwrap) };
  const reason = failure ?? "bwrap is not installed";
  return config.AGENT_SANDBOX === "bwrap"
    ? { mode: "refused", reason: `AGENT_SANDBOX=bwrap but ${reason}` }
    : { mode: "off", reason, runUser, wrap: wrapperFor("off", null) };
}

function probe(wrap: ToolWrap, runUser: RunUser): string | null {
  const scratch = mkdtempSync(join(tmpdir(), "proxystaff-tool-sandbox-"));
  try {
    const workspace = join(scratch, "workspace");
    mkdirSync(workspace);
    if (runUser.kind === "tenant-uid") givePrivateScratch(scratch, [workspace], PROBE_UID);
    const run = wrap(["true"], workspace, PROBE_UID);
    const result = Bun.spawnSync(run.argv, {
      env: { PATH: "/usr/bin:/bin" },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    run.dispose();
    return result.exitCode === 0
      ? null
      : `bwrap failed (exit ${result.exitCode}): ${result.stderr.toString().trim().split("\n")[0] ?? ""}`;
  } catch (err) {
    return `bwrap could not be started (${(err as Error).message})`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
