import type { Command } from "../../cli/command.ts";
import { UsageError } from "../../cli/command.ts";
import { parseCommandArgs } from "../../cli/args.ts";
import { listMessagePage, parseMessageCursor } from "../../conversation/index.ts";
import type { MessageCursor } from "../../conversation/index.ts";
import type { AppContext } from "../../context.ts";
import { getTenant, requireTenant } from "../index.ts";
import type { Tenant } from "../index.ts";
import { formatMessage, otherChatNote } from "./message-lines.ts";
import { printJson, tenantIdArg } from "./support.ts";

const USAGE = "Usage: proxystaff read-messages [tenant-id] [--limit N] [--before CURSOR|ISO-TIME] [--json]";

export const readMessagesCommand: Command = {
  name: "read-messages",
  summary: "Show recent messages, newest first (one tenant's, or every tenant's)",
  help: `${USAGE}

Prints recent messages in both directions, newest first: time, direction (in/out),
channel, status, tenant (when listing all tenants) and text. Without a tenant id it lists
every tenant's messages, including chats that are not linked to any tenant.

Options:
  --limit N          How many (default 20, at most 1000)
  --before CURSOR    Page back: the cursor printed after a full page (on stderr), or
                     an ISO-8601 time for messages created before it
  --json             Print the rows as JSON`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      limit: { type: "string" },
      before: { type: "string" },
      json: { type: "boolean" },
    });
    const tenantId = positionals.length > 0 ? tenantIdArg(positionals, USAGE) : undefined;
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError("--limit must be a whole number from 1 to 1000.");
    let before: MessageCursor | undefined;
    if (values.before !== undefined) {
      before = parseMessageCursor(values.before) ?? undefined;
      if (!before) throw new UsageError("--before must be a cursor printed by read-messages or an ISO-8601 time such as 2026-11-26T08:00:00Z.");
    }
    if (tenantId) await requireTenant(ctx.db, tenantId);
    const { messages: rows, nextBefore } = await listMessagePage(ctx.db, { tenantId, limit, before });
    // On stderr, so stdout stays the rows alone (one per line, or the JSON array) for scripts.
    const olderHint = nextBefore ? `Older messages: --before '${nextBefore}'` : null;
    if (values.json) {
      printJson(io, rows);
      if (olderHint) io.err(olderHint);
      return 0;
    }
    if (rows.length === 0) {
      io.out(tenantId ? `No messages for tenant ${tenantId}.` : "No messages yet.");
      return 0;
    }
    const tenants = await tenantsOf(ctx, rows.map((r) => r.tenant_id));
    for (const row of rows) {
      const tenant = row.tenant_id ? tenants.get(row.tenant_id) : undefined;
      const name = row.tenant_id ? (tenant ? `${tenant.name} (${row.tenant_id.slice(0, 8)})` : row.tenant_id) : `(unlinked chat ${row.chat_id})`;
      io.out(formatMessage(row, tenantId ? undefined : name, otherChatNote(row, tenant?.telegram_chat_id)));
    }
    if (olderHint) io.err(olderHint);
    return 0;
  },
};

async function tenantsOf(ctx: AppContext, ids: (string | null)[]): Promise<Map<string, Tenant>> {
  const tenants = new Map<string, Tenant>();
  for (const id of new Set(ids)) {
    if (!id) continue;
    const tenant = await getTenant(ctx.db, id);
    if (tenant) tenants.set(id, tenant);
  }
  return tenants;
}
