import type { Command } from "../../cli/command.ts";
import { parseCommandArgs } from "../../cli/args.ts";
import { initWorkspace } from "../index.ts";
import { tenantIdArg } from "./support.ts";

const USAGE = "Usage: proxystaff init-tenant <tenant-id>";

export const initTenantCommand: Command = {
  name: "init-tenant",
  summary: "Re-copy a tenant's execution/ tools from the template (keeps everything else)",
  help: `${USAGE}

Re-copies the template's tool scripts into $TENANTS_DIR/<tenant-id>/execution/, overwriting
those scripts only. CLAUDE.md (and its operator notes), timeline/, inbox/ and .env are kept;
anything missing altogether (the folder, CLAUDE.md, .env) is recreated.
Use it after an upgrade or when a tenant folder is damaged.`,
  async run(args, io, ctx) {
    const { positionals } = parseCommandArgs(args, {});
    const id = tenantIdArg(positionals, USAGE);
    const report = await initWorkspace(ctx, id);
    io.out(`Workspace ${report.path}`);
    io.out(`Re-copied: ${report.tools.join(", ") || "(none)"}`);
    if (report.created.length > 0) io.out(`Recreated (was missing): ${report.created.join(", ")}`);
    io.out("Everything else was left as it was.");
    return 0;
  },
};
