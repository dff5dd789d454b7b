import { conversationCommands } from "./chat.ts";
import type { Command } from "./command.ts";
import { credentialsCommands } from "./credentials.ts";
import { doctorCommand } from "./doctor.ts";
import { migrateCommand } from "./migrate-command.ts";
import { serveCommand } from "./serve-command.ts";
import { schedulerCommands } from "./tasks.ts";
import { tenantCommands } from "./tenant-commands.ts";
import { usageCommand } from "./usage-command.ts";

/** Every `proxystaff <command>`; each module lists its own commands in its commands.ts. */
export const commands: Command[] = [
  serveCommand,
  migrateCommand,
  doctorCommand,
  ...tenantCommands,
  ...credentialsCommands,
  ...conversationCommands,
  ...schedulerCommands,
  usageCommand,
];
