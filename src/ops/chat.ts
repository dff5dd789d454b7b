import { and, eq, inArray, sql } from "drizzle-orm";
import type { AgentRunner } from "../agent/index.ts";
import { agentLoginProblem, findAgentLogin } from "../agent/login.ts";
import type { Channel } from "../channels/index.ts";
import { createConsoleChannel } from "../channels/index.ts";
import type { AppContext } from "../context.ts";
import { RUN_FAILED_REPLY } from "../conversation/chat-commands.ts";
import type { Conversation, Outbox } from "../conversation/index.ts";
import { messages } from "../db/schema.ts";
import type { Tenant } from "../tenants/index.ts";

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

/** Why a chat cannot run the real CLI (no model login), or null. */
export function chatLoginProblem(ctx: Pick<AppContext, "config">): string | null {
  return agentLoginProblem(findAgentLogin(ctx.config), ctx.config);
}

/** The `console` channel of a chat: replies go to the operator's terminal (see forTheOperator). */
export function operatorConsole(print: (text: string) => void): Channel {
  return createConsoleChannel((_chatId, text) => print(forTheOperator(text)));
}

/** What a chat session runs on: the engine built by the wiring (src/parts.ts buildEngine) over the operator's console. */
export interface ChatEngine {
  outbox: Outbox;
  conversation: Conversation;
  toolsServer?: { stop(): Promise<void> };
}

/**
 * Starts the engine's outbox and dispatcher and returns the session: each line goes through the same
 * pipeline, dispatcher, runner, MCP tools and outbox as the server, on channel `console` (chat id = tenant id).
 */
export async function startChatSession(
  ctx: AppContext,
  tenant: Tenant,
  engine: ChatEngine,
  options: ChatSessionOptions,
): Promise<ChatSession> {
  const { outbox, conversation } = engine;
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
      .where(
        and(
          eq(messages.direction, "out"),
          eq(messages.channel, "console"),
          eq(messages.chat_id, tenant.id),
          inArray(messages.status, ["pending"]),
        ),
      );
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
      await engine.toolsServer?.stop();
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
