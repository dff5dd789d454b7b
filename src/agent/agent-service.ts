import type { AppContext } from "../context.ts";
import type { HealthContributor } from "../http/health.ts";
import { AgentCommandNotFoundError } from "./command.ts";
import { createAgentRunner } from "./runner.ts";
import { sandboxHealth } from "./sandbox.ts";
import type { AgentRunner } from "./types.ts";

/** The server's runner and what it contributes to /health. */
export interface AgentForServer {
  runner: AgentRunner;
  health: HealthContributor;
}

/**
 * Builds the runner for `serve`. A missing Claude CLI does not stop the server (operators can still set tenants
 * up through the admin API): it is logged loudly, /health says degraded, and each run fails with that reason.
 * A required sandbox that does not work (AGENT_SANDBOX=bwrap) still refuses to start.
 */
export function createAgentForServer(ctx: AppContext): AgentForServer {
  try {
    const runner = createAgentRunner(ctx);
    ctx.log.info("agent CLI found", { path: runner.command.path, source: runner.command.source, sandbox: runner.sandbox.mode });
    return { runner, health: () => sandboxHealth(runner.sandbox) };
  } catch (error) {
    if (!(error instanceof AgentCommandNotFoundError)) throw error;
    ctx.log.error("agent CLI not found: messages will be answered with a failure until it is installed", { error: error.message });
    return {
      runner: {
        run: async () => ({ kind: "crash", error: `agent CLI unavailable: ${error.message}`, durationMs: 0, exitCode: null }),
      },
      health: () => ({ fields: { agent: "unavailable", agent_error: error.message }, degraded: true }),
    };
  }
}
