import type { AgentRunner } from "../agent/index.ts";
import type { Channel, ChannelName, InboundHandler } from "../channels/types.ts";
import type { AppContext } from "../context.ts";
import { ownerScope } from "../instances/index.ts";
import type { HealthContributor, Service } from "../ports.ts";
import { conversationHealth } from "./agent-health.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { createDispatcher } from "./dispatcher.ts";
import type { OutboundReply } from "./outbox.ts";
import { createInboundPipeline } from "./pipeline.ts";
import type { QueueScope } from "./queue-store.ts";
import { newOwnerId } from "./session-store.ts";
import { timelineWritten } from "./timeline.ts";
import type { AgentToolsAccess, ModelGatewayAccess } from "./turn.ts";
import { createTurnRunner } from "./turn.ts";

export interface ConversationDeps {
  /** The channels this process can send through (createChannels' result or just a map). */
  channels: { byName: ReadonlyMap<ChannelName, Channel> };
  /** Stores and sends replies. */
  outbox: { enqueue(reply: OutboundReply): Promise<string[]>; wake?(): void };
  runner: AgentRunner;
  /** The MCP tools; without them runs get no --mcp-config. */
  tools?: AgentToolsAccess;
  /** The model gateway (MODEL_GATEWAY=on); without it runs get the platform's login (off). */
  model?: ModelGatewayAccess;
  /** Credential keys that only server-side tools use: kept out of the agent's environment. */
  withholdFromAgent?: readonly string[];
  /** The server's base URL as the agent reaches it. Default http://127.0.0.1:<the port the server listens on>. */
  selfUrl?: () => string;
  /**
   * Which queued messages this process runs. Default: Telegram and WhatsApp (their replies wait in
   * the outbox if that channel is off here) plus `console` only when this process has it.
   */
  scope?: QueueScope;
  /** Lease owner id of this process. Default newOwnerId(). */
  ownerId?: string;
  /** Dispatcher tuning (tests). */
  sweepIntervalMs?: number;
}

/** The conversation engine of one process. */
export interface Conversation {
  /** The inbound pipeline (channels call it; resolves once the message is stored). */
  handleInbound: InboundHandler;
  /** The queue runner: wake() it after queueing a message; onBatchFinished() tells when a batch's run ended. */
  dispatcher: Dispatcher;
  /** The dispatcher (start/stop with the server). */
  services: Service[];
  /** GET /health fields: queue, last agent failure; degraded on credit-too-low. */
  health: HealthContributor;
  ownerId: string;
}

/** Builds pipeline, dispatcher and turn runner over the given channels, outbox and agent runner. */
export function createConversation(ctx: AppContext, deps: ConversationDeps): Conversation {
  const ownerId = deps.ownerId ?? newOwnerId();
  const channels = deps.channels.byName;
  const instanceId = ownerScope(ctx.config); // only the owner runs a tenant's turns: the workspace is on its volume
  const scope: QueueScope = deps.scope ?? {
    channels: channels.has("console") ? ["telegram", "whatsapp", "console"] : ["telegram", "whatsapp"],
    ...(instanceId !== undefined ? { instanceId } : {}),
  };
  let listeningPort = ctx.config.PORT; // replaced by the real port when the server starts the service
  const selfUrl = deps.selfUrl ?? (() => `http://127.0.0.1:${listeningPort}`);
  const runBatch = createTurnRunner(ctx, {
    runner: deps.runner,
    outbox: deps.outbox,
    channels,
    tools: deps.tools,
    ...(deps.model ? { model: deps.model } : {}),
    selfUrl,
    withholdFromAgent: deps.withholdFromAgent,
  });
  const dispatcher = createDispatcher(ctx, { ownerId, scope, runBatch, sweepIntervalMs: deps.sweepIntervalMs });
  const handleInbound = createInboundPipeline(ctx, { outbox: deps.outbox, channels, wake: dispatcher.wake });

  return {
    handleInbound,
    dispatcher,
    services: [
      {
        name: "conversation",
        async start(listening) {
          if (listening) listeningPort = listening.port;
          await dispatcher.start();
        },
        async stop() {
          await dispatcher.stop();
          await timelineWritten(); // lines the webhooks left to write in the background
        },
      },
    ],
    async health() {
      const part = await conversationHealth(ctx.db);
      return { ...part, fields: { ...part.fields, agent_runs_active: dispatcher.activeTenants().length } };
    },
    ownerId,
  };
}
