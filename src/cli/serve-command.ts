import { agentLoginProblem, findAgentLogin } from "../agent/login.ts";
import type { AppContext } from "../context.ts";
import type { HealthRegistry } from "../http/health.ts";
import { buildServerParts } from "../parts.ts";
import type { HealthPart, ServerPart } from "../ports.ts";
import { serveUntilSignal } from "../serve.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs } from "./command.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the server: webhooks, admin API, agents, scheduler",
  help: `Usage: proxystaff serve

Starts the HTTP server (PORT, HOST), applies pending migrations, and runs the
dispatcher, outbox and scheduler in this process. Logs are JSON lines on stdout.
Stops gracefully on SIGTERM/SIGINT: no new requests, in-flight ones finish (up to
10 s), background work stops, the database closes, exit code 0.
Without a model login (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or
$CLAUDE_CONFIG_DIR/.credentials.json) it still starts, warns, and /health says
agent_login: "missing".
Configuration comes from the environment; docs/operations.md lists every variable.`,
  async run(args, _io, ctx) {
    parseCommandArgs(args, {}); // configuration is the environment's job: no options
    warnWithoutAgentLogin(ctx);
    await serveUntilSignal(ctx, buildServerWithLoginHealth);
    return 0;
  },
};

/** Logs one warning at start when agent runs have no model login (they would each fail with "Not logged in"). */
export function warnWithoutAgentLogin(ctx: Pick<AppContext, "config" | "log">): void {
  const login = findAgentLogin(ctx.config);
  const problem = agentLoginProblem(login, ctx.config);
  if (problem) ctx.log.warn(problem, { agentLogin: login.kind, claudeConfigDir: ctx.config.CLAUDE_CONFIG_DIR });
}

/**
 * The `agent_login` field of /health: where the model login comes from (`api_key`, `oauth_token`,
 * `credentials_file`, `credentials_file_unrecognised`), or `missing` / `credentials_file_unreadable`.
 * Looked up on every call, so a plan login put in place on the running machine shows at once. Not
 * degraded: the process itself is healthy, and a 503 would fail the deploy whose machine the
 * operator must reach (`fly ssh console`) to log in.
 */
export function agentLoginHealth(ctx: Pick<AppContext, "config">): () => HealthPart {
  return () => ({
    fields: {
      agent_login: findAgentLogin(ctx.config).kind,
      model_gateway: ctx.config.MODEL_GATEWAY === "on" ? "on" : "off: every agent holds the platform's model login",
    },
  });
}

/** buildServerParts plus the agent_login health field. */
async function buildServerWithLoginHealth(ctx: AppContext, health: HealthRegistry): Promise<ServerPart[]> {
  health.contribute(agentLoginHealth(ctx), "agent_login");
  return buildServerParts(ctx, health);
}
