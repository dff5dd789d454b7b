// docs/runbook-commands.md: every operator command is also `bun scripts/<name>.ts` (serve and migrate are the
// server's own, run as `npm start` / `proxystaff migrate`).
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { commands } from "../../src/cli/commands.ts";
import { REPO_ROOT } from "../helpers/index.ts";

test("every runbook command has its thin scripts/<name>.ts wrapper", () => {
  const missing: string[] = [];
  for (const command of commands) {
    if (command.name === "serve" || command.name === "migrate") continue;
    const file = join(REPO_ROOT, "scripts", `${command.name}.ts`);
    if (!existsSync(file) || !readFileSync(file, "utf8").includes(`runCli(["${command.name}"`))
      missing.push(command.name);
  }
  expect(missing).toEqual([]);
});
