import type { AgentRunner } from "../agent/index.ts";
import type { Channel, ChannelName, InboundHandler } from "../channels/types.ts";
import type { AppContext } from "../context.ts";
import type { HealthContributor, Service } from "../ports.ts";
import { getTenant } from "../tenants/index.ts";
import { conversationHealth } from "./agent-health.ts";
import { createDispatcher, newOwnerId } from "./dispatcher.ts";
import type { Dispatcher } from "./dispatcher.ts";
import type { OutboundReply } from "./outbox.ts";
import { createInboundPipeline } from "./pipeline.ts";
import type { QueueScope } from "./queue-store.ts";
import { countTaskRunsSince, findTaskRunResult, insertTaskMessage, isTaskMessageOpen } from "../scheduler/task-queue.ts";
import type { TaskInput } from "../scheduler/task-queue.ts";
import { appendTimeline, timelineWritten } from "./timeline.ts";
import { createTurnRunner } from "./turn.ts";
import type { AgentToolsAccess, TaskFinishedHook } from "./turn.ts";

export interface ConversationDeps {
  /** The channels this process can send through (createChannels' result or just a map). */
  channels: { byName: ReadonlyMap<ChannelName, Channel> };
  /** Stores and sends replies. */
  outbox: { enqueue(reply: OutboundReply): Promise<string[]>; wake?(): void };
  runner: AgentRunner;
  /** The MCP tools; without them runs get no --mcp-config. */
  tools?: AgentToolsAccess;
  /** Credential keys that only server-side tools use: kept out of the agent's environment. */
  withholdFromAgent?: readonly string[];
  /** Told when a scheduled task's run finished. */
  onTaskFinished?: TaskFinishedHook;
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
  /** Queues a scheduled task's prompt as a kind='task' message and wakes the dispatcher; returns the message id. */
  enqueueTask(tenantId: string, task: TaskInput): Promise<string>;
  /** True while a message of this task is queued or running. */
  isTaskMessageOpen(taskId: string, tenantId?: string): Promise<boolean>;
  /** How the task's message queued since `since` ended (done/failed), or null (see findTaskRunResult). */
  findTaskRunResult(taskId: string, since: string, tenantId?: string): Promise<{ ok: boolean; error?: string } | null>;
  /** Task runs queued for the tenant since `since` (the scheduler's daily cap). */
  countTaskRunsSince(tenantId: string, since: string): Promise<number>;
  /** Appends a line to the tenant's timeline (other modules' events). */
  appendTimeline(tenantId: string, line: string): Promise<void>;
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
  const scope: QueueScope = deps.scope ?? {
    channels: channels.has("console") ? ["telegram", "whatsapp", "console"] : ["telegram", "whatsapp"],
  };
  let listeningPort = ctx.config.PORT; // replaced by the real port when the server starts the service
  const selfUrl = deps.selfUrl ?? (() => `http://127.0.0.1:${listeningPort}`);
  const runBatch = createTurnRunner(ctx, {
    runner: deps.runner,
    outbox: deps.outbox,
    channels,
    tools: deps.tools,
    selfUrl,
    withholdFromAgent: deps.withholdFromAgent,
    onTaskFinished: deps.onTaskFinished,
  });
  const dispatcher = createDispatcher(ctx, { ownerId, scope, runBatch, sweepIntervalMs: deps.sweepIntervalMs });
  const handleInbound = createInboundPipeline(ctx, { outbox: deps.outbox, channels, wake: dispatcher.wake });

  return {
    handleInbound,
    async enqueueTask(tenantId, task) {
      const id = await insertTaskMessage(ctx, tenantId, task);
      dispatcher.wake();
      return id;
    },
    isTaskMessageOpen: (taskId, tenantId) => isTaskMessageOpen(ctx, taskId, tenantId),
    findTaskRunResult: (taskId, since, tenantId) => findTaskRunResult(ctx, taskId, since, tenantId),
    countTaskRunsSince: (tenantId, since) => countTaskRunsSince(ctx, tenantId, since),
    async appendTimeline(tenantId, line) {
      const tenant = await getTenant(ctx.db, tenantId);
      if (tenant) await appendTimeline(ctx, tenant, line);
    },
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
