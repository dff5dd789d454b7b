import type { Command } from "../../cli/command.ts";
import { parseCommandArgs } from "../../cli/args.ts";
import { createLinkCode, linkCodeUrl, requireTenant } from "../index.ts";
import { telegramBotUsername } from "./bot-username.ts";
import { linkInstructions, printJson, tenantIdArg } from "./support.ts";

const USAGE = "Usage: proxystaff link-code <tenant-id> [--json]";

export const linkCodeCommand: Command = {
  name: "link-code",
  summary: "Make a new one-time Telegram link for a tenant (https://t.me/<bot>?start=<code>, 7 days)",
  help: `${USAGE}

Makes a new one-time deep link for a Telegram tenant with no linked chat and prints it. The
customer taps it (or sends "/start <code>" to the bot) and their chat is linked at once. The
code is stored hashed, so it is shown only now; a new code replaces the old one, and a code
works once. Relinking a tenant that already has a chat: unlink it first
(DELETE /admin/tenants/<id>/link). Same as POST /admin/tenants/<id>/link-code.

Options:
  --json   Print {code, url, expires_at} as JSON (url is null when the bot's name is unknown)`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: "boolean" } });
    const id = tenantIdArg(positionals, USAGE);
    const tenant = await requireTenant(ctx.db, id);
    // createLinkCode refuses a WhatsApp, linked or archived tenant (ConflictError, exit 1).
    const made = await createLinkCode(ctx.db, tenant.id, ctx.clock.now());
    const botUsername = await telegramBotUsername(ctx.config);
    if (!values.json) {
      io.out(linkInstructions(tenant, ctx.config, botUsername, made));
      return 0;
    }
    printJson(io, { code: made.code, url: botUsername ? linkCodeUrl(botUsername, made.code) : null, expires_at: made.expires_at });
    return 0;
  },
};
