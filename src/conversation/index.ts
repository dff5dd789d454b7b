/** The conversation engine: inbound pipeline, queue, dispatcher (leases), timeline. */
export { listMessages } from "./message-store.ts";
export type { ListMessagesOptions } from "./message-store.ts";
export { getSessionState, resetSession } from "./session-store.ts";
export type { SessionState } from "./session-store.ts";
