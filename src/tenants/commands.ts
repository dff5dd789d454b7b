import type { Command } from "../cli/command.ts";
import { createTenantCommand } from "./commands/create-tenant.ts";
import { initTenantCommand } from "./commands/init-tenant.ts";
import { linkCodeCommand } from "./commands/link-code.ts";
import { readMessagesCommand } from "./commands/read-messages.ts";
import { readTenantCommand } from "./commands/read-tenant.ts";
import { setStatusCommand } from "./commands/set-status.ts";
import { setupCustomerCommand } from "./commands/setup-customer.ts";
import { validateTenantCommand } from "./commands/validate-tenant.ts";

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
];
