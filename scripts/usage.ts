import { processIO, runCli } from "../src/cli/run.ts";

process.exit(await runCli(["usage", ...process.argv.slice(2)], processIO(process.env)));
