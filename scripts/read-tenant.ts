import { processIO, runCli } from "../src/cli/run.ts";

process.exit(await runCli(["read-tenant", ...process.argv.slice(2)], processIO(process.env)));
