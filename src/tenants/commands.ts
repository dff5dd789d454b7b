import type { Command } from "../cli/command.ts";

/** The `proxystaff` commands this module adds. */
export const tenantCommands: Command[] = [];
