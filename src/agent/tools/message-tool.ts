import { z } from "zod";
import { ToolFailure, defineTool, excerpt } from "./tool-kit.ts";
import { linkedChatOf } from "./types.ts";

/** Longest text one send_message call takes (the outbox splits it to the channel's limit). */
const MAX_MESSAGE_CHARS = 4000;

export const sendMessageTool = defineTool({
  name: "send_message",
  title: "Message the customer now",
  maxCallsPerRun: 20,
  description:
    "Send a message to the business owner's chat right now, while you keep working (e.g. \"On it — this takes a " +
    "minute\"). Your final answer is sent anyway; do not repeat it here.",
  inputSchema: {
    text: z
      .string()
      .trim()
      .min(1, "text must not be empty")
      .max(MAX_MESSAGE_CHARS, `text must be at most ${MAX_MESSAGE_CHARS} characters`)
      .describe("The message, plain text."),
  },
  async run(input, env) {
    const chat = (env.deps.tenantChat ?? linkedChatOf)(env.tenant);
    if (!chat) {
      throw new ToolFailure("This business has no linked chat yet, so nothing can be sent now. Put it in your answer instead.");
    }
    await env.deps.outbox.enqueue({ tenantId: env.caller.tenantId, channel: chat.channel, chatId: chat.chatId, text: input.text, kind: "chat" });
    return {
      text: "Queued for delivery to the customer's chat.",
      timeline: `sent a message: "${excerpt(input.text)}"`,
      fields: { channel: chat.channel, chars: input.text.length },
    };
  },
});
