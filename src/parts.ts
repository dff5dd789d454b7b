import { createAgentForServer } from "./agent/index.ts";
import { createAgentTools, SERVER_SIDE_CREDENTIALS } from "./mcp/index.ts";
import { channelsHealth, createChannels } from "./channels/index.ts";
import type { AppContext } from "./context.ts";
import { conversationAdminRoutes, createConversation, createOutbox, createRetention } from "./conversation/index.ts";
import { adminRoutes } from "./http/admin/index.ts";
import { metricsRoutes } from "./metrics/index.ts";
import { conversationTaskDeps, createScheduler, taskAdminRoutes } from "./scheduler/index.ts";
import type { HealthRegistry } from "./http/health.ts";
import type { ServerPart } from "./serve.ts";

/**
 * Wires the modules of a running server, top to bottom like the inbound path:
 * channels -> conversation (pipeline, queue, dispatcher) -> agent -> outbox -> channels; then the scheduler.
 * Each module contributes routes, services (loops with start/stop) and health fields.
 */
export async function buildServerParts(ctx: AppContext, health: HealthRegistry): Promise<ServerPart[]> {
  const parts: ServerPart[] = [];
  // [tenants]   admin routes for tenants, credentials, messages, sessions, validation, tools health-check,
  //             the scheduler's task routes and GET /admin/agent-health (the last agent failure in full),
  //             all on one OpenAPI app (GET /admin/openapi.json lists them)
  parts.push({ routes: adminRoutes(ctx, { register: [taskAdminRoutes(ctx), conversationAdminRoutes(ctx)] }) });
  // [metrics]   GET /metrics (Prometheus text; admin key unless METRICS_PUBLIC=true); modules count into ctx.metrics
  parts.push({ routes: metricsRoutes(ctx) });
  // [agent]     the Claude CLI runner; checks the sandbox at construction (AGENT_SANDBOX=bwrap + no working bwrap -> throws;
  //             a missing CLI -> degraded /health, runs fail with the reason, the admin API still works)
  const { runner, health: agentHealth } = createAgentForServer(ctx);
  health.contribute(agentHealth);
  // [channels]  webhooks / polling in; the outbox sends replies out (pending rows from before a restart first)
  const channels = createChannels(ctx);
  const outbox = createOutbox(ctx, channels.byName);
  health.contribute(channelsHealth(channels, outbox));
  parts.push({ routes: channels.routes, services: [outbox, ...channels.services] });
  // [mcp]       the agent's tools at POST /mcp; each run gets a token, the CLI reaches them at http://127.0.0.1:${PORT}/mcp
  const tools = createAgentTools(ctx, { outbox });
  parts.push({ routes: tools.routes });
  // [conversation] pipeline (channels call it), dispatcher (leases, runs the agent), timeline; replies go to the outbox
  const conversation = createConversation(ctx, { channels, outbox, runner, tools, withholdFromAgent: SERVER_SIDE_CREDENTIALS });
  channels.setInboundHandler(conversation.handleInbound);
  health.contribute(conversation.health);
  parts.push({ services: conversation.services });
  // [scheduler] one timer over scheduled_tasks; due tasks go into the conversation's queue (same lease as chat)
  //             and wake its dispatcher; when their run ends, the scheduler reads the outcome from messages
  const scheduler = createScheduler(ctx, conversationTaskDeps(ctx, conversation.dispatcher));
  health.contribute(scheduler.health);
  parts.push({ services: [scheduler.service] });
  // [retention] daily: old messages (each tenant's last 200 kept), strangers' rows, old timeline/ and inbox/ files
  parts.push({ services: [createRetention(ctx).service] });
  return parts;
}
