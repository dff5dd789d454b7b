import { conversationCommands } from "../conversation/commands.ts";
import { credentialsCommands } from "../credentials/commands.ts";
import { schedulerCommands } from "../scheduler/commands.ts";
import { tenantCommands } from "../tenants/commands.ts";
import type { Command } from "./command.ts";
import { doctorCommand } from "./doctor-command.ts";
import { migrateCommand } from "./migrate-command.ts";
import { serveCommand } from "./serve-command.ts";

/** Every `proxystaff <command>`; each module lists its own commands in its commands.ts. */
export const commands: Command[] = [
  serveCommand,
  migrateCommand,
  doctorCommand,
  ...tenantCommands,
  ...credentialsCommands,
  ...conversationCommands,
  ...schedulerCommands,
];
