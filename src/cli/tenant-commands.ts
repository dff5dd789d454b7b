import type { MessageCursor } from "../conversation/index.ts";
import { parseMessageCursor } from "../conversation/index.ts";
import type { MessageRow } from "../db/index.ts";
import { UsageError } from "../errors.ts";
import {
  isLeaseHeld,
  LAST_MESSAGES,
  linkInstructions,
  readMessages,
  readTenant,
  setTenantStatus,
  tenantsOf,
} from "../ops/runbook.ts";
import { formatValidationReport, validateTenant } from "../ops/validation.ts";
import type { OnboardingStatus, Tenant } from "../tenants/index.ts";
import { ONBOARDING_STATUSES } from "../tenants/index.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs, printJson, tenantIdArg } from "./command.ts";
import { moveTenantCommand } from "./move-command.ts";
import { createTenantCommand, initTenantCommand, linkCodeCommand, setupCustomerCommand } from "./setup-commands.ts";

const READ_TENANT_USAGE = "Usage: proxystaff read-tenant <tenant-id> [--json]";

export const readTenantCommand: Command = {
  name: "read-tenant",
  summary: "Show a tenant: profile, statuses, link, credentials (masked), session, tasks, last messages",
  help: `${READ_TENANT_USAGE}

Prints the tenant's profile and statuses, its linked chat (or, when none, whether a one-time
link code is outstanding and until when; the code itself is only shown when made), its credential keys (values
masked), its agent session and lease, its pending scheduled tasks and its last ${LAST_MESSAGES}
messages. Reads the database directly, so changes made with SQL show at once.

Options:
  --json   Print everything as one JSON object`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: "boolean" } });
    const id = tenantIdArg(positionals, READ_TENANT_USAGE);
    const report = await readTenant(ctx, id);
    if (values.json) {
      printJson(io, report);
      return 0;
    }
    const {
      tenant,
      workspace,
      link_code: linkCode,
      credentials,
      session,
      pending_tasks: tasks,
      last_messages: messages,
    } = report;
    const leaseHeld = isLeaseHeld(session, ctx.clock.now());
    const lines = [
      `Tenant ${tenant.id}`,
      `  Name:        ${tenant.name}`,
      `  Phone:       ${tenant.phone_number}`,
      `  Channel:     ${tenant.channel}${channelNote(tenant)}`,
      `  Status:      ${tenant.status}`,
      `  Onboarding:  ${tenant.onboarding_status}`,
      `  Time zone:   ${tenant.timezone}`,
      `  Budget:      ${tenant.monthly_budget_usd === null ? `default (TENANT_MONTHLY_BUDGET_USD: ${ctx.config.tenantMonthlyBudgetUsd ?? "none"})` : `${tenant.monthly_budget_usd} USD a month`}   (proxystaff usage ${tenant.id})`,
      `  Created:     ${tenant.created_at}   Updated: ${tenant.updated_at}`,
      `  Workspace:   ${workspace}`,
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
    for (const [key, value] of profile)
      lines.push(`  ${key}: ${oneLine(Array.isArray(value) ? value.join("; ") : String(value), 200)}`);
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
      lines.push(
        `  ${t.id}  next ${t.next_run_at ?? "-"}  ${when}${t.paused ? " [paused]" : ""}  ${oneLine(t.prompt, 80)}`,
      );
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

const READ_MESSAGES_USAGE =
  "Usage: proxystaff read-messages [tenant-id] [--limit N] [--before CURSOR|ISO-TIME] [--json]";

export const readMessagesCommand: Command = {
  name: "read-messages",
  summary: "Show recent messages, newest first (one tenant's, or every tenant's)",
  help: `${READ_MESSAGES_USAGE}

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
    const tenantId = positionals.length > 0 ? tenantIdArg(positionals, READ_MESSAGES_USAGE) : undefined;
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new UsageError("--limit must be a whole number from 1 to 1000.");
    let before: MessageCursor | undefined;
    if (values.before !== undefined) {
      before = parseMessageCursor(values.before) ?? undefined;
      if (!before)
        throw new UsageError(
          "--before must be a cursor printed by read-messages or an ISO-8601 time such as 2026-11-26T08:00:00Z.",
        );
    }
    const { messages: rows, nextBefore } = await readMessages(ctx, { tenantId, limit, before });
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
    const tenants = await tenantsOf(
      ctx,
      rows.map((r) => r.tenant_id),
    );
    for (const row of rows) {
      const tenant = row.tenant_id ? tenants.get(row.tenant_id) : undefined;
      const name = row.tenant_id
        ? tenant
          ? `${tenant.name} (${row.tenant_id.slice(0, 8)})`
          : row.tenant_id
        : `(unlinked chat ${row.chat_id})`;
      io.out(formatMessage(row, tenantId ? undefined : name, otherChatNote(row, tenant?.telegram_chat_id)));
    }
    if (olderHint) io.err(olderHint);
    return 0;
  },
};

/** Body on one line, cut to `max` characters. */
export function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * "(from Telegram chat 999)" when a tenant's Telegram row is not from the tenant's linked chat:
 * e.g. rows stored under the tenant before an operator relinked it to another chat (older builds
 * also stored a stranger's refused `/start +PHONE` there), which must not read as the owner's own
 * messages. "" otherwise.
 */
export function otherChatNote(
  m: Pick<MessageRow, "tenant_id" | "channel" | "chat_id">,
  linkedChatId: string | null | undefined,
): string {
  if (!m.tenant_id || m.channel !== "telegram" || m.chat_id === linkedChatId) return "";
  return `(from Telegram chat ${m.chat_id}, not the linked chat)  `;
}

/** "2026-11-26T08:00:00.000Z  in   telegram  done     [who]  [other chat]  body" */
export function formatMessage(m: MessageRow, who?: string, note = ""): string {
  const error = m.error ? `  (error: ${oneLine(m.error, 80)})` : "";
  const media = m.media ? " [media]" : "";
  const delivery = m.delivery_status ? `  [${m.delivery_status}${m.error_code ? ` ${m.error_code}` : ""}]` : "";
  const from = who ? `${who}  ` : "";
  return `${m.created_at}  ${m.direction.padEnd(3)}  ${m.channel.padEnd(8)}  ${m.status.padEnd(10)}  ${from}${note}${oneLine(m.body)}${media}${delivery}${error}`;
}

const SET_STATUS_USAGE = `Usage: proxystaff set-status <tenant-id> <${ONBOARDING_STATUSES.join("|")}>`;

export const setStatusCommand: Command = {
  name: "set-status",
  summary: "Change a tenant's onboarding status (DISCOVERY, BUILDING, LIVE, PAUSED)",
  help: `${SET_STATUS_USAGE}

Moves the tenant through its lifecycle and re-renders its CLAUDE.md:
  DISCOVERY  the agent interviews the owner about the business
  BUILDING   the agent works and learns
  LIVE       the agent acts autonomously within its tools
  PAUSED     messages get a short reply and no agent run (from any status; back to any)
Forward moves are allowed (BUILDING may be skipped); going back goes through PAUSED.
Same effect as: UPDATE tenants SET onboarding_status = 'LIVE' WHERE id = '…';`,
  async run(args, io, ctx) {
    const { positionals } = parseCommandArgs(args, {});
    const [idArg, statusArg, ...rest] = positionals;
    const id = tenantIdArg(idArg ? [idArg, ...rest] : [], SET_STATUS_USAGE);
    const status = statusArg?.toUpperCase();
    if (!status) throw new UsageError(`Missing the new status. ${SET_STATUS_USAGE}`);
    if (!(ONBOARDING_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(
        `Unknown status ${JSON.stringify(statusArg)}; use one of ${ONBOARDING_STATUSES.join(", ")}.`,
      );
    }
    const { before, after } = await setTenantStatus(ctx, id, status as OnboardingStatus);
    io.out(
      before.onboarding_status === after.onboarding_status
        ? `Tenant ${id} is already ${after.onboarding_status}; nothing changed.`
        : `Tenant ${id} (${after.name}): ${before.onboarding_status} -> ${after.onboarding_status}.`,
    );
    return 0;
  },
};

const VALIDATE_TENANT_USAGE = "Usage: proxystaff validate-tenant <tenant-id> [--skip-health-checks] [--json]";

export const validateTenantCommand: Command = {
  name: "validate-tenant",
  summary: "Check a tenant's setup: record, workspace, tools, link, credentials, health, lease",
  help: `${VALIDATE_TENANT_USAGE}

Prints a checklist, each line ok / warn / fail with a fix hint: record exists and ACTIVE,
phone valid, time zone valid, folder and CLAUDE.md present, every template tool present in
execution/, chat linked (Telegram) or WhatsApp configured and the number heard from (until the
customer's number writes in, only Twilio's settings are known: a warning), whether agent runs
are isolated (bubblewrap: ok; off: a warning; AGENT_SANDBOX=bwrap not working: a failure),
the credentials each tool needs,
each tool's --health-check (run in the workspace with the tenant's environment, without the
keys only server-side tools use), the server-side send_email, and the session lease. Exit code 0 only if nothing fails (warnings are fine).

Options:
  --skip-health-checks  Do not run the tools' health checks (no network calls)
  --json                Print the report as JSON`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      "skip-health-checks": { type: "boolean" },
      json: { type: "boolean" },
    });
    const id = tenantIdArg(positionals, VALIDATE_TENANT_USAGE);
    const report = await validateTenant(ctx, id, {
      healthChecks: !values["skip-health-checks"],
      sandbox: { hostPath: io.env.PATH },
    });
    if (values.json) printJson(io, report);
    else for (const line of formatValidationReport(report)) io.out(line);
    return report.ok ? 0 : 1;
  },
};

/** The `proxystaff` commands this module adds (the runbook's tenant commands). */
export const tenantCommands: Command[] = [
  setupCustomerCommand,
  createTenantCommand,
  initTenantCommand,
  validateTenantCommand,
  readTenantCommand,
  readMessagesCommand,
  setStatusCommand,
  linkCodeCommand,
  moveTenantCommand,
];
