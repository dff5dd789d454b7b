import { UsageError } from "../errors.ts";
import { requestMove } from "../ops/move-tenant.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs, printJson, tenantIdArg } from "./command.ts";

const MOVE_TENANT_USAGE = "Usage: proxystaff move-tenant <tenant-id> --to <instance-id> [--json]";

export const moveTenantCommand: Command = {
  name: "move-tenant",
  summary: "Move a tenant's workspace and agent runs to another instance (several instances on one database)",
  help: `${MOVE_TENANT_USAGE}

Asks the instance that owns the tenant to move it: it holds the tenant's lease (waiting for a
running turn to end; messages keep arriving and wait), sends the workspace and the tenant's CLI
directory to the target as tar (SHA-256 checked there), switches tenants.instance_id in one
UPDATE, then deletes its copy. The conversation (resume) continues on the target. Safe to run
again after any failure: before the switch it starts over, after it only deletes what was left.
Both instances must be up (proxystaff reads GET /admin/instances' list from the database).

Options:
  --to <instance-id>   The target instance (its INSTANCE_ID)
  --json               Print the report as JSON`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, { to: { type: "string" }, json: { type: "boolean" } });
    const id = tenantIdArg(positionals, MOVE_TENANT_USAGE);
    if (!values.to) throw new UsageError(`Missing --to <instance-id>.\n${MOVE_TENANT_USAGE}`);
    const reports = await requestMove(ctx, id, values.to);
    if (values.json) {
      printJson(io, reports);
      return 0;
    }
    for (const r of reports) {
      io.out(
        r.status === "moved"
          ? `Moved tenant ${r.tenant_id} from ${r.from} to ${r.to} (${r.bytes} bytes); the copy on ${r.from} was deleted.`
          : `Tenant ${r.tenant_id} is on ${r.to}${r.removed_local_copy ? `; removed the copy left on ${r.from}` : ""}.`,
      );
    }
    return 0;
  },
};
