import { buildServerParts } from "../parts.ts";
import { serveUntilSignal } from "../serve.ts";
import { parseCommandArgs } from "./args.ts";
import type { Command } from "./command.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the server: webhooks, admin API, agents, scheduler",
  help: `Usage: proxystaff serve

Starts the HTTP server (PORT, HOST), applies pending migrations, and runs the
dispatcher, outbox and scheduler in this process. Logs are JSON lines on stdout.
Stops gracefully on SIGTERM/SIGINT: no new requests, in-flight ones finish (up to
10 s), background work stops, the database closes, exit code 0.
Configuration comes from the environment; docs/operations.md lists every variable.`,
  async run(args, _io, ctx) {
    parseCommandArgs(args, {}); // configuration is the environment's job: no options
    await serveUntilSignal(ctx, buildServerParts);
    return 0;
  },
};
