import { Hono } from "hono";
import type { AgentRunner, RetireReason } from "./agent/index.ts";
import { createAgentForServer, createAgentRunner } from "./agent/index.ts";
import type { Channel, ChannelName } from "./channels/index.ts";
import { channelsHealth, createChannels } from "./channels/index.ts";
import { consoleRoutes } from "./console/index.ts";
import type { AppContext } from "./context.ts";
import type { Conversation, Outbox } from "./conversation/index.ts";
import {
  createConversation,
  createOutbox,
  createRemoteWake,
  createRetention,
  getSessionState,
  outboundFileRoutes,
  recordDeliveryStatus,
} from "./conversation/index.ts";
import type { QueueScope } from "./conversation/queue-store.ts";
import { AppError } from "./errors.ts";
import type { ModelGateway } from "./gateway/index.ts";
import { createModelGateway } from "./gateway/index.ts";
import { adminRoutes } from "./http/admin/index.ts";
import type { HealthRegistry } from "./http/health.ts";
import { metricsRoutes } from "./http/health.ts";
import { assertOwnedHere, createInstanceService, isOwnedHere, isRemoteDatabase } from "./instances/index.ts";
import type { AgentTools, TenantChat } from "./mcp/index.ts";
import { createAgentTools, SERVER_SIDE_CREDENTIALS } from "./mcp/index.ts";
import type { ChatSession, ChatSessionOptions } from "./ops/chat.ts";
import { chatLoginProblem, operatorConsole, startChatSession } from "./ops/chat.ts";
import type { RouteModule, ServerPart } from "./ports.ts";
import { conversationTaskDeps, createScheduler } from "./scheduler/index.ts";
import type { Tenant } from "./tenants/index.ts";
import { adoptUnownedTenants, getTenant, requireTenant, servingRefusal } from "./tenants/index.ts";

/** With a remote database, the longest the scheduler sleeps (a task added through another instance waits at most this). */
const REMOTE_TASK_POLL_MS = 5000;

/**
 * Wires the modules of a running server, top to bottom like the inbound path:
 * channels -> conversation (pipeline, queue, dispatcher) -> agent -> outbox -> channels; then the scheduler.
 * Each module contributes routes, services (loops with start/stop) and health fields.
 */
export async function buildServerParts(ctx: AppContext, health: HealthRegistry): Promise<ServerPart[]> {
  const parts: ServerPart[] = [];
  // [instances] this instance in `instances` (registered first, heartbeat every 10 s, the list in /health);
  //             alone on the database, it adopts tenants with no owner yet
  const instance = createInstanceService(ctx, {
    adoptUnowned: (id) => adoptUnownedTenants(ctx.db, id, ctx.clock.now()),
  });
  health.contribute(instance.health, "instances");
  parts.push({ services: [instance.service] });
  // [tenants]   admin routes for tenants, credentials, messages, sessions, validation, tools health-check,
  //             the scheduler's task routes and GET /admin/agent-health (the last agent failure in full),
  //             all on one OpenAPI app (GET /admin/openapi.json lists them)
  parts.push({ routes: adminRoutes(ctx) });
  // [metrics]   GET /metrics (Prometheus text; admin key unless METRICS_PUBLIC=true); modules count into ctx.metrics
  parts.push({ routes: metricsRoutes(ctx) });
  // [agent]     the Claude CLI runner; checks the sandbox at construction (AGENT_SANDBOX=bwrap + no working bwrap -> throws;
  //             a missing CLI -> degraded /health, runs fail with the reason, the admin API still works)
  //             AGENT_WARM=on: a warm CLI process per recently active tenant; its pool stops after the dispatcher
  const { runner, health: agentHealth, services: agentServices, warm } = createAgentForServer(ctx);
  health.contribute(agentHealth);
  // Checked with the pool's idle check: a paused or archived tenant keeps no warm process, nor does a reset session
  // or a tenant moved to another instance (its workspace is gone from here).
  warm?.setStaleCheck(async (procs) => {
    const stale: { tenantId: string; reason: RetireReason }[] = [];
    for (const proc of procs) {
      const tenant = await getTenant(ctx.db, proc.tenantId);
      if (!tenant || servingRefusal(tenant)) stale.push({ tenantId: proc.tenantId, reason: "tenant_stopped" });
      else if (!isOwnedHere(ctx.config, tenant)) stale.push({ tenantId: proc.tenantId, reason: "moved" });
      else if ((await getSessionState(ctx.db, proc.tenantId))?.agent_session_id !== proc.sessionId)
        stale.push({ tenantId: proc.tenantId, reason: "session_changed" });
    }
    return stale;
  });
  parts.push({ services: agentServices });
  // [channels]  webhooks / polling in; the outbox sends replies out (pending rows from before a restart first)
  // [mcp]       the agent's tools at POST /mcp; each run gets a token, the CLI reaches them at http://127.0.0.1:${PORT}/mcp
  // [conversation] pipeline (channels call it), dispatcher (leases, runs the agent), timeline; replies go to the outbox
  const channels = createChannels(ctx);
  const { outbox, tools, conversation, gateway } = buildEngine(ctx, { channels: channels.byName, runner });
  health.contribute(channelsHealth(channels, outbox));
  parts.push({ routes: channels.routes, services: [outbox, ...channels.services] });
  // [files out] GET /media/:token: a file send_file queued, for Twilio to fetch (signed, 1 h); receipts land on the rows
  parts.push({ routes: outboundFileRoutes(ctx) });
  channels.setDeliveryStatusHandler(async (update) => {
    await recordDeliveryStatus(ctx, update);
  });
  parts.push({ routes: tools.routes });
  // [gateway]   /model/*: the agents' only way to the model (MODEL_GATEWAY=on); per-run tokens, the platform's login
  //             added here, answers streamed back; the CLI reaches it at http://127.0.0.1:${PORT}/model
  //             metered into model_usage; budgets checked per request; /health `model` (credit) and budget_refused_runs
  if (gateway) {
    parts.push({ routes: gateway.routes });
    health.contribute(gateway.health, "model");
  }
  channels.setInboundHandler(conversation.handleInbound);
  health.contribute(conversation.health);
  parts.push({ services: conversation.services });
  // [remote-wake] a remote database is shared: messages another instance stored for our tenants are found by a 1 s poll
  const remote = isRemoteDatabase(ctx.config.DATABASE_URL);
  if (remote) parts.push({ services: [createRemoteWake(ctx, conversation.dispatcher.wake)] });
  // [scheduler] one timer over scheduled_tasks; due tasks go into the conversation's queue (same lease as chat)
  //             and wake its dispatcher; when their run ends, the scheduler reads the outcome from messages;
  //             a task reply the outbox gives up on reaches its task row (last_error)
  const scheduler = createScheduler(
    ctx,
    conversationTaskDeps(ctx, conversation.dispatcher, outbox),
    remote ? { maxSleepMs: REMOTE_TASK_POLL_MS } : {}, // tasks added through another instance are seen within this
  );
  health.contribute(scheduler.health);
  parts.push({ services: [scheduler.service] });
  // [console]   /console: the operator web console (CONSOLE=off leaves it out); its health strip reads this registry
  parts.push({ routes: consoleRoutes(ctx, health) });
  // [retention] daily: old messages (each tenant's last 200 kept), strangers' rows, old timeline/ and inbox/ files
  parts.push({ services: [createRetention(ctx).service] });
  return parts;
}

/** The conversation engine with what it sends through and the tools its agents call. */
export interface Engine {
  outbox: Outbox;
  tools: AgentTools;
  conversation: Conversation;
  /** The model gateway (MODEL_GATEWAY=on). */
  gateway?: ModelGateway;
  /** Where serveTools put the tools (EngineOptions.serveTools), if it was given. */
  toolsServer?: ToolsServer;
}

/** Tools served on a port of this process' own: the base URL the agent reaches them at. */
export interface ToolsServer {
  url: string;
  stop(): Promise<void>;
}

export interface EngineOptions {
  /** The channels replies go out through. */
  channels: ReadonlyMap<ChannelName, Channel>;
  runner: AgentRunner;
  /** Where the tools' send_message goes. Default: the tenant's linked chat. */
  tenantChat?: (tenant: Tenant) => TenantChat | null;
  /** Serves the tools' (and the model gateway's) routes somewhere of this process' own and says where (default: the server's own port). */
  serveTools?: (routes: RouteModule) => ToolsServer;
  /** Which queued messages this process runs (see ConversationDeps.scope). */
  scope?: QueueScope;
}

/**
 * Builds the engine top to bottom: outbox → MCP tools → conversation (pipeline, dispatcher, turn runner).
 * `serve` and `chat` both build it here; keys only server-side tools use are kept out of the agent's environment.
 */
export function buildEngine(ctx: AppContext, options: EngineOptions): Engine {
  const outbox = createOutbox(ctx, options.channels);
  const tools = createAgentTools(ctx, { outbox, ...(options.tenantChat ? { tenantChat: options.tenantChat } : {}) });
  const gateway = ctx.config.MODEL_GATEWAY === "on" ? createModelGateway(ctx) : undefined;
  const toolsServer = options.serveTools?.(gateway ? bothRoutes(tools.routes, gateway.routes) : tools.routes);
  const conversation = createConversation(ctx, {
    channels: { byName: options.channels },
    outbox,
    runner: options.runner,
    tools,
    ...(gateway ? { model: gateway } : {}),
    withholdFromAgent: SERVER_SIDE_CREDENTIALS,
    ...(toolsServer ? { selfUrl: () => toolsServer.url } : {}),
    ...(options.scope ? { scope: options.scope } : {}),
  });
  return { outbox, tools, conversation, ...(gateway ? { gateway } : {}), ...(toolsServer ? { toolsServer } : {}) };
}

function bothRoutes(first: RouteModule, second: RouteModule): RouteModule {
  return {
    mount(app, admin) {
      first.mount(app, admin);
      second.mount(app, admin);
    },
  };
}

/**
 * `proxystaff chat`: a terminal conversation with one tenant's agent through the same engine as the server
 * (buildEngine), on channel `console` (chat id = tenant id). The tools listen on a loopback port of this
 * process (tasks the agent schedules are rows the server's scheduler runs). This process only takes that
 * tenant's console messages, so a server running beside it keeps its own work; the lease keeps them from overlapping.
 */
export async function openChatSession(
  ctx: AppContext,
  tenantId: string,
  options: ChatSessionOptions,
): Promise<ChatSession> {
  // Without a login every run fails ("Not logged in") and the operator would only see the customer's apology.
  const loginProblem = options.runner ? null : chatLoginProblem(ctx);
  if (loginProblem) throw new AppError("agent_login_missing", loginProblem, 503);
  const tenant = await requireTenant(ctx.db, tenantId);
  await assertOwnedHere(ctx, tenant); // the agent runs in the workspace, which is on the owner's volume
  const engine = buildEngine(ctx, {
    channels: new Map<ChannelName, Channel>([["console", operatorConsole(options.print)]]),
    runner: options.runner ?? createAgentRunner(ctx),
    // The same MCP tools as the server, on a loopback port of this process; send_message prints here.
    tenantChat: (t) => ({ channel: "console", chatId: t.id }),
    serveTools: serveOnLoopback,
    scope: { channels: ["console"], tenantId: tenant.id },
  });
  return startChatSession(ctx, tenant, engine, options);
}

/** Serves routes (the tools' POST /mcp) on 127.0.0.1, a free port; `url` is the base the agent reaches them at. */
function serveOnLoopback(routes: RouteModule): ToolsServer {
  const app = new Hono();
  routes.mount(app, new Hono());
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
