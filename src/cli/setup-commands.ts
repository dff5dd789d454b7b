import type { AppContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import type { Intake } from "../ops/intake.ts";
import { parseIntake, readIntakeJson } from "../ops/intake.ts";
import {
  applyIntake,
  createTenantWithLink,
  initTenant,
  linkInstructions,
  linkInstructionsWithCode,
  newLinkCode,
  storeIntakeCredentials,
} from "../ops/runbook.ts";
import { formatValidationReport, validateTenant } from "../ops/validation.ts";
import type { Tenant } from "../tenants/index.ts";
import { CHANNELS, workspacePath } from "../tenants/index.ts";
import type { Command, CommandIO } from "./command.ts";
import { ask, parseCommandArgs, printJson, tenantIdArg } from "./command.ts";

/** node:util parseArgs options for the tenant flags. */
export const TENANT_FLAG_OPTIONS = {
  name: { type: "string" },
  phone: { type: "string" },
  channel: { type: "string" },
  timezone: { type: "string" },
  instance: { type: "string" },
} as const;

export const TENANT_FLAGS_HELP = `  --name "Business Name"     The business's name
  --phone "+18015551234"     The owner's phone number (any notation; stored as E.164)
  --channel telegram|whatsapp
  --timezone America/Denver  IANA time zone (default UTC)
  --instance <id>            The instance that holds the workspace (default: this one, INSTANCE_ID);
                             another instance is refused (wrong_instance): run the command there`;

const PROMPTS: Record<"name" | "phone" | "channel", string> = {
  name: "Business name",
  phone: "Owner's phone number (e.g. +18015551234)",
  channel: `Channel (${CHANNELS.join("/")})`,
};

/**
 * Merges flags over `base` (an intake file's raw object, or {}), then fills the required fields
 * that are still missing by asking on the terminal. Without a terminal, a missing field is a
 * UsageError naming the flags to pass.
 */
export async function completeTenantFields(
  io: CommandIO,
  flags: TenantFlags,
  base: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const raw: Record<string, unknown> = { ...base };
  for (const key of ["name", "phone", "channel", "timezone"] as const) {
    if (flags[key] !== undefined) raw[key] = flags[key];
  }
  if (flags.instance !== undefined) raw.instance_id = flags.instance;
  const missing: string[] = [];
  for (const field of ["name", "phone", "channel"] as const) {
    if (raw[field] !== undefined && raw[field] !== "") continue;
    const answer = await ask(io, PROMPTS[field]);
    if (answer === null) missing.push(`--${field}`);
    else raw[field] = answer;
  }
  if (io.isInteractive && raw.timezone === undefined) {
    const tz = await ask(io, "Time zone (IANA, e.g. America/Denver; empty for UTC)");
    if (tz) raw.timezone = tz;
  }
  if (missing.length > 0) {
    const why = io.isInteractive ? "" : " (stdin is not a terminal, so there is no prompt)";
    throw new UsageError(`Missing ${missing.join(", ")}${why}.`);
  }
  return raw;
}

const SETUP_CUSTOMER_USAGE = `Usage: proxystaff setup-customer --name "Business Name" --phone "+18015551234" --channel telegram|whatsapp
       proxystaff setup-customer --from-file customers/new-customer.json`;

export const setupCustomerCommand: Command = {
  name: "setup-customer",
  summary: "Set a customer up in one go: tenant, workspace, credentials, link instructions, validation",
  help: `${SETUP_CUSTOMER_USAGE}

Creates the tenant and its workspace, stores the intake file's credentials in the vault,
prints the tenant id and what the customer must do to link their chat, then runs the
validation checklist (as validate-tenant). Exit code 0 when set up and nothing fails.

Re-running with the same phone number is safe: it says the tenant exists and changes
nothing, unless --update is given (then name, time zone, business profile and the file's
credentials are updated; the channel is kept).

Options:
${TENANT_FLAGS_HELP}
  --from-file PATH           An intake file (copy docs/customer-intake-template.json); flags
                             given as well override its fields. Empty credential values are skipped.
  --update                   Update an existing tenant with the same phone number
  --skip-health-checks       Validate without running the tools' health checks`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      ...TENANT_FLAG_OPTIONS,
      "from-file": { type: "string" },
      update: { type: "boolean" },
      "skip-health-checks": { type: "boolean" },
    });
    if (positionals.length > 0) throw new UsageError(`Unexpected argument: ${positionals[0]}`);
    const file = values["from-file"];
    const base = file ? readIntakeJson(file) : {};
    if (file && (typeof base !== "object" || base === null || Array.isArray(base))) {
      throw new UsageError(`Intake file ${file} must hold a JSON object (see docs/customer-intake-template.json).`);
    }
    const raw = await completeTenantFields(io, values, base as Record<string, unknown>);
    const intake = parseIntake(raw, file ? `Intake file ${file}` : "Customer input");
    const hasBusiness = "business" in raw;

    const outcome = await applyIntake(ctx, intake, { update: values.update, hasBusiness });
    const tenant = outcome.tenant;
    if (outcome.kind === "exists") {
      io.out(`A tenant with phone ${intake.phone} already exists: ${tenant.id} (${describeTenant(tenant)}).`);
      io.out("Nothing was changed; re-run with --update to update it from this input.");
    } else {
      io.out(`${outcome.kind === "created" ? "Created" : "Updated"} tenant ${tenant.id}: ${describeTenant(tenant)}`);
      if (outcome.kind === "updated" && outcome.keptChannel) {
        io.err(
          `Note: the channel stays ${outcome.keptChannel}; changing a tenant's channel is not supported (create a new tenant).`,
        );
      }
      await storeCredentials(ctx, io, tenant, intake);
    }

    io.out("");
    io.out(`Tenant id: ${tenant.id}`);
    io.out(`Workspace: ${workspacePath(ctx.config, tenant.id)}`);
    io.out(await linkInstructionsWithCode(ctx, tenant));
    io.out("");
    const report = await validateTenant(ctx, tenant.id, {
      healthChecks: !values["skip-health-checks"],
      sandbox: { hostPath: io.env.PATH },
    });
    for (const line of formatValidationReport(report)) io.out(line);
    return report.ok ? 0 : 1;
  },
};

async function storeCredentials(ctx: AppContext, io: CommandIO, tenant: Tenant, intake: Intake): Promise<void> {
  const { stored, skipped } = await storeIntakeCredentials(ctx, tenant, intake);
  if (stored.length > 0) io.out(`Credentials stored in the vault: ${stored.join(", ")}`);
  if (skipped.length > 0) io.out(`Credentials left empty in the input (not stored): ${skipped.join(", ")}`);
}

/** A one-line description: "Acme Plumbing" +18015551234 telegram, DISCOVERY, ACTIVE. */
export function describeTenant(t: Tenant): string {
  return `${JSON.stringify(t.name)} ${t.phone_number} ${t.channel}, ${t.onboarding_status}, ${t.status}, ${t.timezone}`;
}

const CREATE_TENANT_USAGE =
  "Usage: proxystaff create-tenant [--name …] [--phone …] [--channel telegram|whatsapp] [--timezone …]";

export const createTenantCommand: Command = {
  name: "create-tenant",
  summary: "Create a tenant record and its workspace (prompts for missing fields on a terminal)",
  help: `${CREATE_TENANT_USAGE}

Creates the tenant (status ACTIVE, onboarding DISCOVERY) and its workspace folder from the
template, and prints its id. Fields not given as flags are asked for when stdin is a
terminal; otherwise they are an error. A phone number that already has a tenant is refused
(exit 1) with that tenant's id.

Options:
${TENANT_FLAGS_HELP}

Next steps: store credentials (POST /admin/tenants/<id>/credentials), then
proxystaff validate-tenant <id>. setup-customer does all of this in one go.`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, TENANT_FLAG_OPTIONS);
    if (positionals.length > 0) throw new UsageError(`Unexpected argument: ${positionals[0]} (use flags)`);
    const raw = await completeTenantFields(io, values);
    const { credentials: _none, ...input } = parseIntake(raw, "Tenant input");
    const { tenant, workspace, linkInstructions: howToLink } = await createTenantWithLink(ctx, input);
    io.out(`Created tenant ${tenant.id}: ${describeTenant(tenant)}`);
    io.out(`Workspace: ${workspace}`);
    io.out(howToLink);
    io.out(
      `Next: store credentials (POST /admin/tenants/${tenant.id}/credentials), then: proxystaff validate-tenant ${tenant.id}`,
    );
    return 0;
  },
};

const INIT_TENANT_USAGE = "Usage: proxystaff init-tenant <tenant-id>";

export const initTenantCommand: Command = {
  name: "init-tenant",
  summary: "Re-copy a tenant's execution/ tools from the template (keeps everything else)",
  help: `${INIT_TENANT_USAGE}

Re-copies the template's tool scripts into $TENANTS_DIR/<tenant-id>/execution/, overwriting
those scripts only. CLAUDE.md (and its operator notes), timeline/, inbox/ and .env are kept;
anything missing altogether (the folder, CLAUDE.md, .env) is recreated.
Use it after an upgrade or when a tenant folder is damaged.`,
  async run(args, io, ctx) {
    const { positionals } = parseCommandArgs(args, {});
    const id = tenantIdArg(positionals, INIT_TENANT_USAGE);
    const report = await initTenant(ctx, id);
    io.out(`Workspace ${report.path}`);
    io.out(`Re-copied: ${report.tools.join(", ") || "(none)"}`);
    if (report.created.length > 0) io.out(`Recreated (was missing): ${report.created.join(", ")}`);
    io.out("Everything else was left as it was.");
    return 0;
  },
};

const LINK_CODE_USAGE = "Usage: proxystaff link-code <tenant-id> [--json]";

export const linkCodeCommand: Command = {
  name: "link-code",
  summary: "Make a new one-time Telegram link for a tenant (https://t.me/<bot>?start=<code>, 7 days)",
  help: `${LINK_CODE_USAGE}

Makes a new one-time deep link for a Telegram tenant with no linked chat and prints it. The
customer taps it (or sends "/start <code>" to the bot) and their chat is linked at once. The
code is stored hashed, so it is shown only now; a new code replaces the old one, and a code
works once. Relinking a tenant that already has a chat: unlink it first
(DELETE /admin/tenants/<id>/link). Same as POST /admin/tenants/<id>/link-code.

Options:
  --json   Print {code, url, expires_at} as JSON (url is null when the bot's name is unknown)`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: "boolean" } });
    const id = tenantIdArg(positionals, LINK_CODE_USAGE);
    // A WhatsApp, linked or archived tenant is refused (ConflictError, exit 1).
    const { tenant, code, botUsername, url } = await newLinkCode(ctx, id);
    if (!values.json) {
      io.out(linkInstructions(tenant, ctx.config, botUsername, code));
      return 0;
    }
    printJson(io, { code: code.code, url, expires_at: code.expires_at });
    return 0;
  },
};

/** The tenant fields a command takes as flags. */
export interface TenantFlags {
  name?: string;
  phone?: string;
  channel?: string;
  timezone?: string;
  instance?: string;
}
