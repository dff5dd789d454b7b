import { buildServerParts } from "../parts.ts";
import { startServer } from "../serve.ts";
import type { Command } from "./command.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the server: webhooks, admin API, agents, scheduler",
  help: `Usage: proxystaff serve

Starts the HTTP server (PORT, HOST), applies pending migrations, and runs the
dispatcher, outbox and scheduler in this process. Stops gracefully on SIGTERM/SIGINT.
Configuration comes from the environment; see the README's configuration table.`,
  async run(_args, _io, ctx) {
    const running = await startServer(ctx, buildServerParts);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGTERM", stop);
        process.off("SIGINT", stop);
        void running.shutdown().then(resolve);
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    });
    return 0;
  },
};
