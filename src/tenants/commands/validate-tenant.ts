import type { Command } from "../../cli/command.ts";
import { parseCommandArgs } from "../../cli/args.ts";
import { formatValidationReport, validateTenant } from "../validation.ts";
import { printJson, tenantIdArg } from "./support.ts";

const USAGE = "Usage: proxystaff validate-tenant <tenant-id> [--skip-health-checks] [--json]";

export const validateTenantCommand: Command = {
  name: "validate-tenant",
  summary: "Check a tenant's setup: record, workspace, tools, link, credentials, health, lease",
  help: `${USAGE}

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
    const id = tenantIdArg(positionals, USAGE);
    const report = await validateTenant(ctx, id, { healthChecks: !values["skip-health-checks"], sandbox: { hostPath: io.env.PATH } });
    if (values.json) printJson(io, report);
    else for (const line of formatValidationReport(report)) io.out(line);
    return report.ok ? 0 : 1;
  },
};
