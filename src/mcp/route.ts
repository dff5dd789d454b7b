import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Context, Hono } from "hono";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { RouteModule } from "../ports.ts";
import type { IssuedRunToken } from "../run-tokens.ts";
import { RunTokenStore } from "../run-tokens.ts";
import { sendEmailTool } from "./email.ts";
import { sendFileTool } from "./file-tool.ts";
import type { ToolCaller, ToolEnv } from "./tool-kit.ts";
import { registerProxyTool } from "./tool-kit.ts";
import {
  cancelTaskTool,
  listTasksTool,
  scheduleTaskTool,
  sendMessageTool,
  setOnboardingStatusTool,
  updateBusinessProfileTool,
} from "./tools.ts";

/** The MCP server's name: the CLI shows its tools as `mcp__proxystaff__<tool>`. */
export const MCP_SERVER_NAME = "proxystaff";
/** Where the endpoint is mounted on the root app. */
export const MCP_PATH = "/mcp";

/** Builds the per-request tool environment for a token's caller, or null when its tenant may not use tools. */
export type ToolEnvBuilder = (caller: ToolCaller) => Promise<Omit<ToolEnv, "redact"> | null>;

/**
 * `POST /mcp` (Streamable HTTP, stateless: a fresh MCP server and transport per request, JSON
 * answers). The bearer token decides the tenant; nothing in the request body can change it.
 * GET and DELETE answer 405 since there are no sessions or server-initiated streams.
 */
export function createMcpRoutes(tokens: ToolTokenStore, buildEnv: ToolEnvBuilder, log: Logger): RouteModule {
  return {
    mount(app: Hono) {
      app.post(MCP_PATH, async function serveMcp(c) {
        const caller = tokens.resolve(bearerOf(c.req.header("authorization")));
        if (!caller) {
          log.warn("mcp request refused", { reason: "bad_token" });
          return rpcError(c, 401, -32001, "Unauthorized: the MCP token is missing, unknown, revoked or expired.", {
            "www-authenticate": 'Bearer realm="proxystaff-mcp"',
          });
        }
        const env = await buildEnv(caller);
        if (!env) {
          log.warn("mcp request refused", {
            reason: "tenant_inactive",
            tenantId: caller.tenantId,
            runId: caller.runId,
          });
          return rpcError(c, 403, -32003, "Forbidden: this business is archived or gone; its tools are off.");
        }
        const server = createToolServer(env);
        const transport = new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        await server.connect(transport);
        try {
          return await transport.handleRequest(c.req.raw);
        } finally {
          // JSON mode: the answer is complete here, so the per-request server can go.
          await server.close();
        }
      });
      app.on(["GET", "DELETE"], MCP_PATH, (c) =>
        rpcError(c, 405, -32000, "Method not allowed: this MCP endpoint is stateless; use POST.", { allow: "POST" }),
      );
    },
  };
}

/** Every ProxyStaff tool, registered on one per-request server. */
export function createToolServer(env: Omit<ToolEnv, "redact">): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, version: "1.0.0" }, { capabilities: { tools: {} } });
  registerProxyTool(server, env, scheduleTaskTool);
  registerProxyTool(server, env, listTasksTool);
  registerProxyTool(server, env, cancelTaskTool);
  registerProxyTool(server, env, sendMessageTool);
  registerProxyTool(server, env, sendFileTool);
  registerProxyTool(server, env, updateBusinessProfileTool);
  registerProxyTool(server, env, setOnboardingStatusTool);
  registerProxyTool(server, env, sendEmailTool);
  return server;
}

function bearerOf(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1] ?? null;
}

function rpcError(
  c: Context,
  status: 401 | 403 | 405,
  code: number,
  message: string,
  headers: Record<string, string> = {},
) {
  return c.json({ jsonrpc: "2.0", error: { code, message }, id: null }, status, headers);
}

/** A token handed to one agent run; revoke it when the run ends. */
export type IssuedToken = IssuedRunToken;

/** The live per-run MCP tokens; each run's calls per tool are counted on its caller (shared by all its requests). */
export class ToolTokenStore extends RunTokenStore<ToolCaller> {
  constructor(clock: Clock, maxAgeMs: number) {
    super(clock, maxAgeMs, { caller: (tenantId, runId) => ({ tenantId, runId, calls: new Map() }) });
  }
}
