import type { AppContext } from "../context.ts";
import type { RouteModule } from "../ports.ts";
import { EMAIL_CREDENTIALS } from "./email.ts";
import type { IssuedToken } from "./route.ts";
import { createMcpRoutes, MCP_PATH, ToolTokenStore } from "./route.ts";
import type { AgentToolsDeps, AgentToolsOptions, ToolBackends } from "./tool-kit.ts";
import { createToolBackends } from "./tool-kit.ts";

/**
 * The agent's tools: a tenant-scoped MCP server at POST /mcp (see docs/agent-tools.md).
 * Each run gets a token from `issueToken`; every tool resolves its tenant from that token only.
 */

export type { ToolsHealthOptions } from "./email.ts";
export { checkToolsHealth } from "./email.ts";
export type { TenantChat } from "./tool-kit.ts";

/**
 * Credentials only server-side tools use: keep them out of the agent's environment, so the agent
 * can use them (through a tool) without being able to read them.
 */
export const SERVER_SIDE_CREDENTIALS: readonly string[] = [EMAIL_CREDENTIALS.apiKey];

/** Default time a never-revoked token outlives the run's limit. */
const DEFAULT_TOKEN_MARGIN_MS = 60_000;

/** The MCP tools of a running server. */
export interface AgentTools {
  /** POST/GET/DELETE /mcp on the root app (not under /admin: the bearer is a run token, not the admin key). */
  routes: RouteModule;
  /** A fresh token for one agent run of this tenant; revoke it when the run ends. */
  issueToken(tenantId: string, runId: string): IssuedToken;
  /** The endpoint's URL under a base such as `http://127.0.0.1:3000`. */
  url(baseUrl: string): string;
}

/** Builds the tools, their token store and their route (wired in src/parts.ts). */
export function createAgentTools(ctx: AppContext, deps: AgentToolsDeps, options: AgentToolsOptions = {}): AgentTools {
  const tokens = new ToolTokenStore(
    ctx.clock,
    ctx.config.AGENT_TIMEOUT_MS + (options.tokenMarginMs ?? DEFAULT_TOKEN_MARGIN_MS),
  );
  const backends: ToolBackends = createToolBackends(ctx);
  const log = ctx.log.child({ module: "agent-tools" });
  const sendgrid = { baseUrl: ctx.config.SENDGRID_API_BASE, fetch: options.fetch, timeoutMs: options.emailTimeoutMs };
  const routes = createMcpRoutes(
    tokens,
    async (caller) => {
      const tenant = await backends.findTenant(caller.tenantId);
      if (!tenant || tenant.status === "ARCHIVED") return null;
      return { ctx, deps, backends, sendgrid, caller, tenant, log };
    },
    log,
  );
  return {
    routes,
    issueToken: (tenantId, runId) => tokens.issue(tenantId, runId),
    url: (baseUrl) => `${baseUrl.replace(/\/+$/, "")}${MCP_PATH}`,
  };
}
