import type { Command } from "../../cli/command.ts";
import { UsageError } from "../../cli/command.ts";
import { parseCommandArgs } from "../../cli/args.ts";
import { ONBOARDING_STATUSES, requireTenant, setOnboardingStatus } from "../index.ts";
import type { OnboardingStatus } from "../index.ts";
import { tenantIdArg } from "./support.ts";

const USAGE = `Usage: proxystaff set-status <tenant-id> <${ONBOARDING_STATUSES.join("|")}>`;

export const setStatusCommand: Command = {
  name: "set-status",
  summary: "Change a tenant's onboarding status (DISCOVERY, BUILDING, LIVE, PAUSED)",
  help: `${USAGE}

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
    const id = tenantIdArg(idArg ? [idArg, ...rest] : [], USAGE);
    const status = statusArg?.toUpperCase();
    if (!status) throw new UsageError(`Missing the new status. ${USAGE}`);
    if (!(ONBOARDING_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`Unknown status ${JSON.stringify(statusArg)}; use one of ${ONBOARDING_STATUSES.join(", ")}.`);
    }
    const before = await requireTenant(ctx.db, id);
    const after = await setOnboardingStatus(ctx, id, status as OnboardingStatus, { by: "operator" });
    io.out(
      before.onboarding_status === after.onboarding_status
        ? `Tenant ${id} is already ${after.onboarding_status}; nothing changed.`
        : `Tenant ${id} (${after.name}): ${before.onboarding_status} -> ${after.onboarding_status}.`,
    );
    return 0;
  },
};
