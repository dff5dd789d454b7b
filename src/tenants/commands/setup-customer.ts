import type { Command, CommandIO } from "../../cli/command.ts";
import { UsageError } from "../../cli/command.ts";
import { parseCommandArgs } from "../../cli/args.ts";
import type { AppContext } from "../../context.ts";
import { setCredentials } from "../../credentials/index.ts";
import { createTenant, findTenantByPhone, updateTenant, workspacePath } from "../index.ts";
import type { Tenant } from "../index.ts";
import { intakeCredentials, parseIntake, readIntakeJson } from "../intake.ts";
import type { Intake } from "../intake.ts";
import { formatValidationReport, validateTenant } from "../validation.ts";
import { describeTenant, linkInstructionsWithCode } from "./support.ts";
import { TENANT_FLAGS_HELP, TENANT_FLAG_OPTIONS, completeTenantFields } from "./tenant-input.ts";

const USAGE = `Usage: proxystaff setup-customer --name "Business Name" --phone "+18015551234" --channel telegram|whatsapp
       proxystaff setup-customer --from-file customers/new-customer.json`;

export const setupCustomerCommand: Command = {
  name: "setup-customer",
  summary: "Set a customer up in one go: tenant, workspace, credentials, link instructions, validation",
  help: `${USAGE}

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

    const existing = await findTenantByPhone(ctx.db, intake.phone);
    let tenant: Tenant;
    if (existing && !values.update) {
      tenant = existing;
      io.out(`A tenant with phone ${intake.phone} already exists: ${existing.id} (${describeTenant(existing)}).`);
      io.out("Nothing was changed; re-run with --update to update it from this input.");
    } else if (existing) {
      tenant = await updateExisting(ctx, io, existing, intake, hasBusiness);
    } else {
      const { credentials: _stored, ...input } = intake;
      tenant = await createTenant(ctx, input);
      io.out(`Created tenant ${tenant.id}: ${describeTenant(tenant)}`);
      await storeCredentials(ctx, io, tenant, intake);
    }

    io.out("");
    io.out(`Tenant id: ${tenant.id}`);
    io.out(`Workspace: ${workspacePath(ctx.config, tenant.id)}`);
    io.out(await linkInstructionsWithCode(ctx, tenant));
    io.out("");
    const report = await validateTenant(ctx, tenant.id, { healthChecks: !values["skip-health-checks"], sandbox: { hostPath: io.env.PATH } });
    for (const line of formatValidationReport(report)) io.out(line);
    return report.ok ? 0 : 1;
  },
};

async function updateExisting(ctx: AppContext, io: CommandIO, existing: Tenant, intake: Intake, hasBusiness: boolean): Promise<Tenant> {
  const tenant = await updateTenant(ctx, existing.id, {
    name: intake.name,
    timezone: intake.timezone,
    ...(hasBusiness && { business: intake.business }),
  });
  io.out(`Updated tenant ${tenant.id}: ${describeTenant(tenant)}`);
  if (intake.channel !== existing.channel) {
    io.err(`Note: the channel stays ${existing.channel}; changing a tenant's channel is not supported (create a new tenant).`);
  }
  await storeCredentials(ctx, io, tenant, intake);
  return tenant;
}

async function storeCredentials(ctx: AppContext, io: CommandIO, tenant: Tenant, intake: Intake): Promise<void> {
  const creds = intakeCredentials(intake);
  const skipped = Object.keys(intake.credentials).filter((k) => !(k in creds));
  if (Object.keys(creds).length > 0) {
    await setCredentials(ctx, tenant.id, creds);
    io.out(`Credentials stored in the vault: ${Object.keys(creds).join(", ")}`);
  }
  if (skipped.length > 0) io.out(`Credentials left empty in the input (not stored): ${skipped.join(", ")}`);
}
