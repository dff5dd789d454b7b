import { platformSecrets } from "../config.ts";
import { UsageError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { openChatSession } from "../parts.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs } from "./command.ts";

const chatCommand: Command = {
  name: "chat",
  summary: "Talk to a tenant's agent in the terminal (same pipeline, dispatcher and runner as the bots)",
  help: `Usage: proxystaff chat <tenant-id> [--message TEXT]... [--verbose]

Opens a terminal chat with the tenant's agent on the "console" channel: each line you type goes
through the same pipeline as a Telegram or WhatsApp message (commands /reset and /help work, the
rate limit and PAUSED status apply), is run by the agent in the tenant's workspace under the
tenant's session lease, and the reply is printed. The tenant's timeline gets the same lines.
Type /quit (or end the input) to leave.

Options:
  -m, --message TEXT  send TEXT, print the reply and exit (repeatable; no prompt)
  -v, --verbose       print the server's log lines (stderr) instead of warnings only

The agent has its MCP tools here too, served on a loopback port of this process (send_message prints
in the terminal; a task it schedules is run by the server's scheduler). Server-side credentials such as
SENDGRID_API_KEY stay out of the agent's environment, as in the server.`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      message: { type: "string", short: "m", multiple: true },
      verbose: { type: "boolean", short: "v" },
    });
    const tenantId = positionals[0];
    if (!tenantId || positionals.length > 1)
      throw new UsageError("Give exactly one tenant id: proxystaff chat <tenant-id>");
    // Chat output goes to stdout; log lines to stderr, warnings only unless --verbose.
    const log = createLogger({
      level: values.verbose ? ctx.config.LOG_LEVEL : "warn",
      redact: platformSecrets(ctx.config),
      write: (line) => io.err(line),
      format: ctx.config.LOG_FORMAT,
    });
    const session = await openChatSession({ ...ctx, log }, tenantId, { print: (text) => io.out(`\n${text}\n`) });
    try {
      const scripted = values.message ?? [];
      if (scripted.length > 0) {
        for (const text of scripted) {
          io.out(`you> ${text}`);
          await session.send(text);
        }
        return 0;
      }
      io.out(`Chatting with ${session.tenant.name} (${session.tenant.id}). /help for commands, /quit to leave.`);
      for (;;) {
        const line = await io.readLine("you> ");
        if (line === null || /^\/(quit|exit)\s*$/i.test(line.trim())) break;
        if (line.trim() === "") continue;
        await session.send(line);
      }
      return 0;
    } finally {
      await session.close();
    }
  },
};

/** The `proxystaff` commands this module adds. */
export const conversationCommands: Command[] = [chatCommand];
