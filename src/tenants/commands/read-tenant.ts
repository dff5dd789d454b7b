import type { Command } from "../../cli/command.ts";
import { parseCommandArgs } from "../../cli/args.ts";
import { getSessionState, listMessages } from "../../conversation/index.ts";
import { listCredentials } from "../../credentials/index.ts";
import { listTasks } from "../../scheduler/index.ts";
import { linkCodeStatus, requireTenant, workspacePath } from "../index.ts";
import type { Tenant } from "../index.ts";
import { formatMessage, oneLine, otherChatNote } from "./message-lines.ts";
import { linkInstructions, printJson, tenantIdArg } from "./support.ts";

const USAGE = "Usage: proxystaff read-tenant <tenant-id> [--json]";
const LAST_MESSAGES = 5;

export const readTenantCommand: Command = {
  name: "read-tenant",
  summary: "Show a tenant: profile, statuses, link, credentials (masked), session, tasks, last messages",
  help: `${USAGE}

Prints the tenant's profile and statuses, its linked chat (or, when none, whether a one-time
link code is outstanding and until when; the code itself is only shown when made), its credential keys (values
masked), its agent session and lease, its pending scheduled tasks and its last ${LAST_MESSAGES}
messages. Reads the database directly, so changes made with SQL show at once.

Options:
  --json   Print everything as one JSON object`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: "boolean" } });
    const id = tenantIdArg(positionals, USAGE);
    const tenant = await requireTenant(ctx.db, id);
    const [credentials, session, tasks, messages, linkCode] = await Promise.all([
      listCredentials(ctx, id),
      getSessionState(ctx.db, id),
      listTasks(ctx.db, { tenantId: id, status: "PENDING" }),
      listMessages(ctx.db, { tenantId: id, limit: LAST_MESSAGES }),
      linkCodeStatus(ctx.db, id, ctx.clock.now()),
    ]);
    if (values.json) {
      printJson(io, { tenant, workspace: workspacePath(ctx.config, id), link_code: linkCode, credentials, session, pending_tasks: tasks, last_messages: messages });
      return 0;
    }
    const leaseHeld = session?.lease_expires_at != null && Date.parse(session.lease_expires_at) > ctx.clock.now();
    const lines = [
      `Tenant ${tenant.id}`,
      `  Name:        ${tenant.name}`,
      `  Phone:       ${tenant.phone_number}`,
      `  Channel:     ${tenant.channel}${channelNote(tenant)}`,
      `  Status:      ${tenant.status}`,
      `  Onboarding:  ${tenant.onboarding_status}`,
      `  Time zone:   ${tenant.timezone}`,
      `  Created:     ${tenant.created_at}   Updated: ${tenant.updated_at}`,
      `  Workspace:   ${workspacePath(ctx.config, id)}`,
    ];
    if (tenant.channel === "telegram" && !tenant.telegram_chat_id) {
      lines.push(`  ${linkInstructions(tenant, ctx.config)}`);
      lines.push(
        linkCode
          ? `  Link code:   one outstanding, valid until ${linkCode.expires_at} (shown only when made; a new one: proxystaff link-code ${tenant.id})`
          : `  Link code:   none (make a one-time link: proxystaff link-code ${tenant.id})`,
      );
    }
    lines.push("Business profile:");
    const profile = Object.entries(tenant.business);
    if (profile.length === 0) lines.push("  (empty)");
    for (const [key, value] of profile) lines.push(`  ${key}: ${oneLine(Array.isArray(value) ? value.join("; ") : String(value), 200)}`);
    lines.push(`Credentials (${credentials.length}):`);
    if (credentials.length === 0) lines.push("  (none)");
    const keyWidth = Math.max(0, ...credentials.map((c) => c.key.length));
    for (const c of credentials) lines.push(`  ${c.key.padEnd(keyWidth)}  ${c.masked}  updated ${c.updated_at}`);
    lines.push("Session:");
    lines.push(`  Agent session: ${session?.agent_session_id ?? "(none)"}`);
    lines.push(
      leaseHeld
        ? `  Lease: held by ${session?.lease_owner ?? "?"} until ${session?.lease_expires_at} (an agent run is in progress)`
        : "  Lease: free",
    );
    lines.push(`Pending tasks (${tasks.length}):`);
    if (tasks.length === 0) lines.push("  (none)");
    for (const t of tasks) {
      const when = t.cron ? `cron "${t.cron}" (${t.timezone})` : `once at ${t.run_at}`;
      lines.push(`  ${t.id}  next ${t.next_run_at ?? "-"}  ${when}${t.paused ? " [paused]" : ""}  ${oneLine(t.prompt, 80)}`);
    }
    lines.push(`Last ${LAST_MESSAGES} messages (newest first):`);
    if (messages.length === 0) lines.push("  (none)");
    for (const m of messages) lines.push(`  ${formatMessage(m, undefined, otherChatNote(m, tenant.telegram_chat_id))}`);
    for (const line of lines) io.out(line);
    return 0;
  },
};

/** What links the tenant's chat: the Telegram chat id, or (WhatsApp) the phone number itself. */
function channelNote(tenant: Tenant): string {
  if (tenant.telegram_chat_id) return ` (Telegram chat ${tenant.telegram_chat_id} linked)`;
  if (tenant.channel === "telegram") return " (no chat linked)";
  return ` (messages from ${tenant.phone_number} reach this tenant; no linking step)`;
}
