import type { Channel, SendResult } from "./types.ts";
import { DEFAULT_MAX_LENGTH } from "./types.ts";

/** Receives each reply the console channel "sends" (the terminal chat prints it). */
export type ConsoleWriter = (chatId: string, text: string) => void | Promise<void>;

/**
 * The `console` channel behind `proxystaff chat`: replies go to an injected writer instead of a
 * platform. Sending never fails unless the writer throws (then it is retried like a network error).
 */
export function createConsoleChannel(write: ConsoleWriter): Channel {
  let sentCount = 0;
  return {
    name: "console",
    maxLength: DEFAULT_MAX_LENGTH.console,
    async send(message): Promise<SendResult> {
      try {
        await write(message.chatId, message.text);
      } catch (err) {
        return { ok: false, retryable: true, error: `console write failed: ${err instanceof Error ? err.message : String(err)}` };
      }
      sentCount++;
      return { ok: true, externalId: `console-${Date.now()}-${sentCount}` };
    },
  };
}
