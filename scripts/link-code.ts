import { processIO, runCli } from "../src/cli/run.ts";

process.exit(await runCli(["link-code", ...process.argv.slice(2)], processIO(process.env)));
