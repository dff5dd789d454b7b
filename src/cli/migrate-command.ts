import { migrateDatabase } from "../db/index.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs } from "./command.ts";

export const migrateCommand: Command = {
  name: "migrate",
  summary: "Apply pending database migrations (also done at every start)",
  help: `Usage: proxystaff migrate

Applies every migration embedded in this build that the database (DATABASE_URL) has
not seen yet, and prints how many ran. Safe to run any number of times; \`serve\`
does the same at every start.`,
  async run(args, io, ctx) {
    parseCommandArgs(args, {}); // no options: anything else is a usage error
    const applied = await migrateDatabase(ctx.database);
    io.out(applied === 0 ? "Database is up to date." : `Applied ${applied} migration(s).`);
    return 0;
  },
};
