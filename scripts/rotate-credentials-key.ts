import { processIO, runCli } from "../src/cli/run.ts";

process.exit(await runCli(["rotate-credentials-key", ...process.argv.slice(2)], processIO(process.env)));
