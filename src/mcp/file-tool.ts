import { basename } from "node:path";
import { z } from "zod";
import { describeFile, FILE_LIMIT_BYTES } from "../conversation/index.ts";
import { AppError } from "../errors.ts";
import { readWorkspaceBytes } from "../tenants/index.ts";
import { defineTool, linkedChatOf, ToolFailure } from "./tool-kit.ts";

/** Longest caption sent with a file (Telegram takes 1024 characters). */
const MAX_CAPTION_CHARS = 1024;

function megabytes(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MB`;
}

/**
 * send_file: one file of the workspace to the customer's chat. The file is read once, here, without
 * following links (a regular file of one name, within the platform's limit), and its bytes are copied to
 * the server's own spool; the outbox sends that copy. So a file the agent changes or swaps after the call
 * (TOCTOU) changes nothing, and a retry sends the same bytes.
 */
export const sendFileTool = defineTool({
  name: "send_file",
  title: "Send a file to the customer",
  maxCallsPerRun: 10,
  description:
    "Send a file from your workspace (e.g. a quote PDF you wrote) to the business owner's chat, with an optional " +
    'caption. `path` is relative to your working folder, e.g. "quotes/quote-42.pdf"; it must be a regular file ' +
    "inside it (no links). JPEG/PNG go as pictures, everything else as a document. Limits: Telegram 10 MB pictures " +
    "/ 50 MB documents; WhatsApp 5 MB pictures / 16 MB documents. Your final answer is sent anyway.",
  inputSchema: {
    path: z
      .string()
      .trim()
      .min(1, "path is required, relative to your working folder")
      .max(500, "path must be at most 500 characters")
      .describe("The file, relative to your working folder."),
    caption: z
      .string()
      .trim()
      .max(MAX_CAPTION_CHARS, `caption must be at most ${MAX_CAPTION_CHARS} characters`)
      .optional()
      .describe("A short text shown with the file."),
  },
  async run(input, env) {
    const chat = (env.deps.tenantChat ?? linkedChatOf)(env.tenant);
    if (!chat) throw new ToolFailure("This business has no linked chat yet, so no file can be sent now.");
    if (chat.channel === "console" || !env.deps.outbox.enqueueFile)
      throw new ToolFailure("This chat cannot receive files; say where the file is in your answer instead.");
    const platform = chat.channel;
    if (platform === "whatsapp" && !env.ctx.config.PUBLIC_URL)
      throw new ToolFailure(
        "Files cannot be sent on WhatsApp here: the server has no PUBLIC_URL for WhatsApp to fetch them from. Tell the operator.",
      );
    const fileName = basename(input.path);
    const { mimeType, kind } = describeFile(fileName);
    const limit = FILE_LIMIT_BYTES[platform][kind];
    let bytes: Uint8Array | null;
    try {
      bytes = readWorkspaceBytes(env.ctx.config, env.caller.tenantId, input.path, limit);
    } catch (err) {
      if (err instanceof AppError && err.code === "path_outside_workspace")
        throw new ToolFailure(`Refused: ${input.path} is outside your working folder; give a path inside it.`);
      if (err instanceof AppError && err.code === "unsafe_workspace_file")
        throw new ToolFailure(
          `Refused: ${err.message} ${platform === "telegram" ? "Telegram" : "WhatsApp"} takes ${kind === "photo" ? "pictures" : "documents"} up to ${megabytes(limit)}.`,
        );
      throw err;
    }
    if (bytes === null) throw new ToolFailure(`No file at ${input.path} (paths are relative to your working folder).`);
    if (platform === "whatsapp") {
      const mode = await env.backends.whatsappSendMode(env.tenant, chat.chatId);
      if (mode.mode !== "free")
        throw new ToolFailure(
          "Not sent (outside_whatsapp_window): the customer last wrote more than 24 hours ago, and WhatsApp lets a " +
            "business send files only within 24 hours of the customer's last message. Send it after they write again.",
        );
    }
    const messageId = await env.deps.outbox.enqueueFile({
      tenantId: env.caller.tenantId,
      channel: platform,
      chatId: chat.chatId,
      caption: input.caption ?? "",
      file: { fileName, mimeType, sizeBytes: bytes.byteLength, kind },
      bytes,
    });
    return {
      text: `Queued ${fileName} (${bytes.byteLength} bytes, ${kind === "photo" ? "as a picture" : "as a document"}) for delivery to the customer's chat.`,
      timeline: `sent a file: ${fileName} (${bytes.byteLength} bytes)`,
      fields: { channel: platform, messageId, sizeBytes: bytes.byteLength, kind },
    };
  },
});
