/** The conversation engine: inbound pipeline, queue, dispatcher (leases), outbox, timeline. */
export { createConversation } from "./conversation.ts";
export type { Conversation } from "./conversation.ts";
export { insertInbound, listMessagePage, listMessages, parseMessageCursor } from "./message-store.ts";
export type { MessageCursor } from "./message-store.ts";
export { getSessionState, resetSession } from "./session-store.ts";
export type { SessionState } from "./session-store.ts";
export { appendTimeline, quoteForTimeline } from "./timeline.ts";
export { agentHealthDetails } from "./agent-health.ts";
export { createOutbox } from "./outbox.ts";
export { queueCounts } from "./queue-store.ts";
export { createRetention } from "./retention.ts";
export type { Outbox } from "./outbox.ts";
