import type { Command } from "../../cli/command.ts";
import { UsageError } from "../../cli/command.ts";
import { parseCommandArgs } from "../../cli/args.ts";
import { createTenant, workspacePath } from "../index.ts";
import { parseIntake } from "../intake.ts";
import { describeTenant, linkInstructionsWithCode } from "./support.ts";
import { TENANT_FLAGS_HELP, TENANT_FLAG_OPTIONS, completeTenantFields } from "./tenant-input.ts";

const USAGE = "Usage: proxystaff create-tenant [--name …] [--phone …] [--channel telegram|whatsapp] [--timezone …]";

export const createTenantCommand: Command = {
  name: "create-tenant",
  summary: "Create a tenant record and its workspace (prompts for missing fields on a terminal)",
  help: `${USAGE}

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
    const tenant = await createTenant(ctx, input);
    io.out(`Created tenant ${tenant.id}: ${describeTenant(tenant)}`);
    io.out(`Workspace: ${workspacePath(ctx.config, tenant.id)}`);
    io.out(await linkInstructionsWithCode(ctx, tenant));
    io.out(`Next: store credentials (POST /admin/tenants/${tenant.id}/credentials), then: proxystaff validate-tenant ${tenant.id}`);
    return 0;
  },
};
