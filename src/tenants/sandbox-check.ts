import { AgentCommandNotFoundError, BWRAP_INSTALL_HINT, SandboxUnavailableError, checkSandbox, resolveAgentCommand } from "../agent/index.ts";
import type { ResolvedAgentCommand } from "../agent/index.ts";
import type { Config } from "../config.ts";
import type { ValidationCheck } from "./validation.ts";

/** Where validate-tenant looks for the agent CLI and bubblewrap. */
export interface SandboxCheckOptions {
  /** PATH to find the agent CLI and `bwrap` on. Default: this process's PATH, as the agent runner uses. */
  hostPath?: string;
  /** Use this bwrap (null = as if it were not installed). Default: looked up on PATH. */
  bwrapPath?: string | null;
  /** Directories whose node_modules/.bin/claude is tried; default: the runner's. */
  searchRoots?: string[];
}

const decided = new WeakMap<Config, ValidationCheck>();

/**
 * The "sandbox" line of validate-tenant: how this server's agent runs are isolated, decided exactly as the
 * runner decides it at start (the agent CLI is found, then `checkSandbox` runs bubblewrap with a run's mounts).
 * ok: bubblewrap works. warn: isolation is off (AGENT_SANDBOX=none, or auto without a working bwrap) —
 * tenants' agents can read each other's files. fail: AGENT_SANDBOX=bwrap and it does not work (the server
 * refuses to start), or no agent CLI at all. Never throws. Decided once per config with default options.
 */
export function checkAgentSandbox(config: Config, options: SandboxCheckOptions = {}): ValidationCheck {
  const isDefault = options.hostPath === undefined && options.bwrapPath === undefined && options.searchRoots === undefined;
  const known = isDefault ? decided.get(config) : undefined;
  if (known) return known;
  const check = decide(config, options);
  if (isDefault) decided.set(config, check);
  return check;
}

function decide(config: Config, options: SandboxCheckOptions): ValidationCheck {
  // The runner reads the server's PATH the same way (src/agent/runner.ts); config has no PATH of its own.
  const hostPath = options.hostPath ?? process.env.PATH ?? "";
  let command: ResolvedAgentCommand;
  try {
    command = resolveAgentCommand(config.AGENT_COMMAND, { path: hostPath, searchRoots: options.searchRoots });
  } catch (err) {
    if (!(err instanceof AgentCommandNotFoundError)) return failed(err);
    return { name: "sandbox", status: "fail", detail: `No agent can run here (so the sandbox was not checked): ${err.message}.`, fix: "Install the agent CLI as the message says, then validate again." };
  }
  try {
    const status = checkSandbox(config, command, { hostPath, bwrapPath: options.bwrapPath });
    if (status.mode === "bwrap") return { name: "sandbox", status: "ok", detail: `Agent runs are isolated by bubblewrap (${status.bwrapPath}).` };
    return {
      name: "sandbox",
      status: "warn",
      detail: status.warning ?? "Agent runs are NOT isolated.",
      fix: config.AGENT_SANDBOX === "none" ? "Production sets AGENT_SANDBOX=bwrap (with bubblewrap installed)." : `${BWRAP_INSTALL_HINT} Then set AGENT_SANDBOX=bwrap.`,
    };
  } catch (err) {
    if (!(err instanceof SandboxUnavailableError)) return failed(err);
    return { name: "sandbox", status: "fail", detail: `${err.message.replace(` ${BWRAP_INSTALL_HINT}`, "")} The server refuses to start like this.`, fix: BWRAP_INSTALL_HINT };
  }
}

function failed(err: unknown): ValidationCheck {
  return { name: "sandbox", status: "fail", detail: `The sandbox could not be checked: ${err instanceof Error ? err.message : String(err)}` };
}
