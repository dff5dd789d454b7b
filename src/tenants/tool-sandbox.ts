import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bwrapArgs } from "../agent/index.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";

/** How tool health checks are isolated: like agent runs, they execute code the agent can edit. */
export type ToolSandbox =
  | { mode: "bwrap"; wrap(argv: string[], workspace: string): string[] }
  | { mode: "off"; reason: string }
  | { mode: "refused"; reason: string };

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
  if (config.AGENT_SANDBOX === "none") return { mode: "off", reason: "AGENT_SANDBOX=none" };
  const bwrap = Bun.which("bwrap", { PATH: "/usr/local/bin:/usr/bin:/bin" });
  const failure = bwrap ? probe(bwrap) : "bwrap is not installed";
  if (bwrap && failure === null) {
    return {
      mode: "bwrap",
      wrap: (argv, workspace) => [
        bwrap,
        ...bwrapArgs({ workspace, tenantConfigDir: workspace, platformCredentials: null, cliFiles: "/usr" }),
        "--",
        ...argv,
      ],
    };
  }
  const reason = failure ?? "bwrap is not installed";
  return config.AGENT_SANDBOX === "bwrap" ? { mode: "refused", reason: `AGENT_SANDBOX=bwrap but ${reason}` } : { mode: "off", reason };
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
