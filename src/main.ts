#!/usr/bin/env bun
import { processIO, runCli } from "./cli/run.ts";

/** `proxystaff <command>`: the CLI entry of the binary and of `npm start`. */
export async function main(argv = process.argv.slice(2)): Promise<never> {
  const code = await runCli(argv, processIO(process.env));
  process.exit(code);
}

if (import.meta.main) await main();
