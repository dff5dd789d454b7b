import { and, eq, inArray, sql } from "drizzle-orm";
import { Hono } from "hono";
import { createAgentRunner } from "../agent/index.ts";
import type { AgentRunner } from "../agent/index.ts";
import { createAgentTools, SERVER_SIDE_CREDENTIALS } from "../mcp/index.ts";
import { createConsoleChannel } from "../channels/index.ts";
import type { Channel, ChannelName } from "../channels/index.ts";
import { agentLoginProblem, findAgentLogin } from "../agent/login.ts";
import type { AppContext } from "../context.ts";
import { AppError } from "../errors.ts";
import { messages } from "../db/schema.ts";
import type { RouteModule } from "../ports.ts";
import { requireTenant } from "../tenants/index.ts";
import type { Tenant } from "../tenants/index.ts";
import { createConversation } from "../conversation/conversation.ts";
import { createOutbox } from "../conversation/outbox.ts";
import { RUN_FAILED_REPLY } from "../conversation/chat-commands.ts";

/** A terminal conversation with one tenant's agent over the `console` channel. */
export interface ChatSession {
  tenant: Tenant;
  /** Sends one line as the operator and resolves once it is answered (or refused) and the reply printed. */
  send(text: string): Promise<void>;
  close(): Promise<void>;
}

export interface ChatSessionOptions {
  /** Where replies go (the terminal). */
  print(text: string): void;
  /** The agent runner (default: the real CLI, as the server runs it; it needs a model login, or the session refuses to open). */
  runner?: AgentRunner;
  /** How often to look whether the message is finished (the terminal is not a hot path). Default 100 ms. */
  pollMs?: number;
}

/**
 * Opens a chat with the tenant through the same pipeline, dispatcher, runner, MCP tools and outbox
 * as the server, on channel `console` (chat id = tenant id). Keys only server-side tools use are kept
 * out of the agent's environment, as in the server; the tools listen on a loopback port of this
 * process (tasks the agent schedules are rows the server's scheduler runs). This process only takes that tenant's console
 * messages, so a server running beside it keeps its own work; the lease keeps them from overlapping.
 */
export async function openChatSession(ctx: AppContext, tenantId: string, options: ChatSessionOptions): Promise<ChatSession> {
  // Without a login every run fails ("Not logged in") and the operator would only see the customer's apology.
  const loginProblem = options.runner ? null : agentLoginProblem(findAgentLogin(ctx.config), ctx.config);
  if (loginProblem) throw new AppError("agent_login_missing", loginProblem, 503);
  const tenant = await requireTenant(ctx.db, tenantId);
  const console = createConsoleChannel((_chatId, text) => options.print(forTheOperator(text)));
  const byName = new Map<ChannelName, Channel>([["console", console]]);
  const outbox = createOutbox(ctx, byName);
  // The same MCP tools as the server, on a loopback port of this process; send_message prints here.
  const tools = createAgentTools(ctx, { outbox, tenantChat: (t) => ({ channel: "console", chatId: t.id }) });
  const toolsServer = serveToolsOnLoopback(tools.routes);
  const conversation = createConversation(ctx, {
    channels: { byName },
    outbox,
    runner: options.runner ?? createAgentRunner(ctx),
    tools,
    withholdFromAgent: SERVER_SIDE_CREDENTIALS,
    selfUrl: () => toolsServer.url,
    scope: { channels: ["console"], tenantId: tenant.id },
  });
  await outbox.start();
  for (const service of conversation.services) await service.start();
  const pollMs = options.pollMs ?? 100;

  async function isSettled(externalId: string): Promise<boolean> {
    const inbound = await ctx.db
      .select({ id: messages.id, status: messages.status })
      .from(messages)
      .where(and(eq(messages.direction, "in"), eq(messages.channel, "console"), eq(messages.external_id, externalId)));
    const row = inbound[0];
    if (!row || row.status === "queued" || row.status === "processing") return false;
    const pending = await ctx.db
      .select({ n: sql<number>`count(*)` })
      .from(messages)
      .where(and(eq(messages.direction, "out"), eq(messages.channel, "console"), eq(messages.chat_id, tenant.id), inArray(messages.status, ["pending"])));
    return Number(pending[0]?.n ?? 0) === 0;
  }

  return {
    tenant,
    async send(text) {
      const externalId = `console-${crypto.randomUUID()}`;
      await conversation.handleInbound({
        channel: "console",
        externalId,
        chatId: tenant.id,
        // The timeline adds the channel ("← operator (console): …"); the agent reads "[Message from operator, …]".
        senderName: "operator",
        text,
        media: [],
        receivedAtMs: ctx.clock.now(),
      });
      outbox.wake();
      while (!(await isSettled(externalId))) await Bun.sleep(pollMs);
    },
    async close() {
      for (const service of [...conversation.services].reverse()) await service.stop();
      await outbox.stop();
      await toolsServer.stop();
    },
  };
}

/**
 * The console's reader is the operator, not a customer: the customer's apology for a failed run
 * ("…I've told the team") becomes what happened and where the reason is.
 */
function forTheOperator(text: string): string {
  if (text !== RUN_FAILED_REPLY) return text;
  return `(The agent run failed: the reason is in the "agent run failed" log line above and in the tenant's timeline. A customer would have been told: "${RUN_FAILED_REPLY}")`;
}

/** Serves the tools' routes (POST /mcp) on 127.0.0.1, a free port; `url` is the base the agent reaches them at. */
function serveToolsOnLoopback(routes: RouteModule): { url: string; stop(): Promise<void> } {
  const app = new Hono();
  routes.mount(app, new Hono());
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
