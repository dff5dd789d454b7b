/** The conversation engine: inbound pipeline, queue, dispatcher (leases), outbox, timeline. */

export { agentHealthDetails } from "./agent-health.ts";
export type { Conversation } from "./conversation.ts";
export { createConversation } from "./conversation.ts";
export { recordDeliveryStatus } from "./delivery-status.ts";
export type { MessageCursor } from "./message-store.ts";
export { insertInbound, listMessagePage, listMessages, parseMessageCursor } from "./message-store.ts";
export { describeFile, FILE_LIMIT_BYTES, outboundFileRoutes } from "./outbound-files.ts";
export type { DeliveryFailure, OutboundFileReply, Outbox } from "./outbox.ts";
export { createOutbox } from "./outbox.ts";
export { hasQueuedForInstance, queueCounts } from "./queue-store.ts";
export { createRemoteWake, REMOTE_POLL_MS } from "./remote-wake.ts";
export { createRetention } from "./retention.ts";
export type { SessionState } from "./session-store.ts";
export {
  acquireLease,
  getSessionState,
  isDeadLocalOwner,
  newMoveOwner,
  releaseLease,
  renewLease,
  resetSession,
} from "./session-store.ts";
export { appendTimeline, quoteForTimeline, readTimelineDay } from "./timeline.ts";
export type { WhatsAppSendMode } from "./whatsapp-window.ts";
export { OUTSIDE_WINDOW_ERROR, whatsappSendMode, whatsappTemplateSid } from "./whatsapp-window.ts";
