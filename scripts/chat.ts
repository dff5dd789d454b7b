import { processIO, runCli } from "../src/cli/run.ts";

process.exit(await runCli(["chat", ...process.argv.slice(2)], processIO(process.env)));
