import { processIO, runCli } from "../src/cli/run.ts";

process.exit(await runCli(["move-tenant", ...process.argv.slice(2)], processIO(process.env)));
