import { processIO, runCli } from "../src/cli/run.ts";

process.exit(await runCli(["cancel-task", ...process.argv.slice(2)], processIO(process.env)));
