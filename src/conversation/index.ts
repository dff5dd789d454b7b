/** The conversation engine: inbound pipeline, queue, dispatcher (leases), outbox, timeline. */
export { createConversation } from "./conversation.ts";
export type { Conversation, ConversationDeps } from "./conversation.ts";
export { insertInbound, listMessagePage, listMessages, messageCursor, parseMessageCursor } from "./message-store.ts";
export type { ListMessagesOptions, MessageCursor } from "./message-store.ts";
export { getSessionState, resetAgentSession, resetSession } from "./session-store.ts";
export type { ResetOptions, ResetOutcome, SessionState } from "./session-store.ts";
export { appendTimeline, localDateTime, quoteForTimeline } from "./timeline.ts";
export type { TimelineTenant } from "./timeline.ts";
export type { AgentToolsAccess } from "./turn.ts";
export { agentHealthDetails, conversationHealth } from "./agent-health.ts";
export type { AgentFailureRecord, AgentHealthDetails } from "./agent-health.ts";
export { createOutbox } from "./outbox.ts";
export { queueCounts } from "./queue-store.ts";
export { createRetention } from "./retention.ts";
export type { Retention, RetentionOptions, RetentionReport } from "./retention.ts";
export type { Outbox, OutboundReply, OutboxOptions } from "./outbox.ts";
