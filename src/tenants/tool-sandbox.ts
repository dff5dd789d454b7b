import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bwrapArgs, runLimitsFor, sandboxWrapper } from "../agent/index.ts";
import type { PreparedRun, ResolvedAgentCommand } from "../agent/index.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";

/**
 * How tool health checks are isolated: like agent runs, they execute code the agent can edit. `wrap` gives the argv
 * to spawn with the runs' limits (own cgroup with pids/memory caps, RLIMITs, under bwrap a sized /tmp) and the
 * clean-up to call when it ended. Without `wrap` ("off" made by hand in tests) the tool runs as is.
 */
export type ToolSandbox =
  | { mode: "bwrap"; wrap(argv: string[], workspace: string): PreparedRun }
  | { mode: "off"; reason: string; wrap?(argv: string[], workspace: string): PreparedRun }
  | { mode: "refused"; reason: string };

/** The tool's files: python3 and its libraries are under /usr (bound read-only anyway). */
const TOOL_FILES: ResolvedAgentCommand = { path: "/usr/bin/python3", ownFiles: "/usr", source: "PATH" };

const decided = new WeakMap<Config, ToolSandbox>();

/**
 * Decides once per config, following AGENT_SANDBOX: "none" → off; otherwise bubblewrap when a
 * probe run works (the tool then sees the system's read-only files and its own workspace only,
 * never DATA_DIR or other tenants); "auto" without a working bwrap → off with a warning;
 * "bwrap" without one → refused (health checks report it instead of running unisolated).
 */
export function toolSandbox(config: Config, log?: Logger): ToolSandbox {
  const known = decided.get(config);
  if (known) return known;
  const sandbox = decide(config);
  if (sandbox.mode !== "bwrap") log?.warn("tool health checks not isolated", { mode: sandbox.mode, reason: sandbox.reason });
  decided.set(config, sandbox);
  return sandbox;
}

function decide(config: Config): ToolSandbox {
  const { limits, cgroups } = runLimitsFor(config);
  const wrapperFor = (mode: "bwrap" | "off", bwrapPath: string | null) => {
    const wrapRun = sandboxWrapper({ requested: config.AGENT_SANDBOX, mode, bwrapPath, warning: null, limits, cgroups });
    return (argv: string[], workspace: string) =>
      wrapRun({ argv, workspace, tenantConfigDir: workspace, platformCredentials: null, command: TOOL_FILES });
  };
  if (config.AGENT_SANDBOX === "none") return { mode: "off", reason: "AGENT_SANDBOX=none", wrap: wrapperFor("off", null) };
  const bwrap = Bun.which("bwrap", { PATH: "/usr/local/bin:/usr/bin:/bin" });
  const failure = bwrap ? probe(bwrap) : "bwrap is not installed";
  if (bwrap && failure === null) return { mode: "bwrap", wrap: wrapperFor("bwrap", bwrap) };
  const reason = failure ?? "bwrap is not installed";
  return config.AGENT_SANDBOX === "bwrap" ? { mode: "refused", reason: `AGENT_SANDBOX=bwrap but ${reason}` } : { mode: "off", reason, wrap: wrapperFor("off", null) };
}

function probe(bwrap: string): string | null {
  const scratch = mkdtempSync(join(tmpdir(), "proxystaff-tool-sandbox-"));
  try {
    const workspace = join(scratch, "workspace");
    mkdirSync(workspace);
    const argv = [bwrap, ...bwrapArgs({ workspace, tenantConfigDir: workspace, platformCredentials: null, cliFiles: "/usr" }), "--", "true"];
    const result = Bun.spawnSync(argv, { env: { PATH: "/usr/bin:/bin" }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    return result.exitCode === 0 ? null : `bwrap failed (exit ${result.exitCode}): ${result.stderr.toString().trim().split("\n")[0] ?? ""}`;
  } catch (err) {
    return `bwrap could not be started (${(err as Error).message})`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
