import pkg from "../../package.json" with { type: "json" };
import type { Config } from "../config.ts";
import type { DoctorCheck } from "../ops/doctor.ts";
import { displayUrl, runDoctor } from "../ops/doctor.ts";
import type { CommandIO, StandaloneCommand } from "./command.ts";
import { parseCommandArgs } from "./command.ts";

/**
 * `proxystaff doctor`: checks an install against its own configuration (the same environment the
 * server gets) and prints one ok/warn/fail line per check, with a fix for each problem. Changes
 * nothing: no database is created or migrated, no secret generated, no platform called.
 */
export const doctorCommand: StandaloneCommand = {
  name: "doctor",
  needsContext: false,
  summary: "Check this install: config, database, Claude login and CLI, python3, sandbox, channels",
  help: `Usage: proxystaff doctor [--json] [--skip-sandbox]

Checks the install this environment describes (run it where the server runs, e.g. in
\`fly ssh console\`), and prints one line per check:
  ok    works
  warn  works, but look at it (the line says why and how to fix it)
  fail  will not work until fixed
Checks: configuration, admin and credentials keys, DATA_DIR/TENANTS_DIR, database reachable
and migrations current, CLAUDE_CONFIG_DIR and the Claude login (ANTHROPIC_API_KEY,
CLAUDE_CODE_OAUTH_TOKEN or .credentials.json), the claude CLI and its version, python3,
the agent sandbox self-check (a probe inside exactly the sandbox a run gets), and channels.
Nothing is changed and no outside service is called.

Options:
  --json          print the checks as a JSON array ({name, status, detail, fix?})
  --skip-sandbox  leave out the sandbox self-check (it starts bubblewrap and the CLI)

Exit code: 0 when nothing failed (warnings allowed), 1 otherwise.`,
  async run(args, io) {
    const { values } = parseCommandArgs(args, { json: { type: "boolean" }, "skip-sandbox": { type: "boolean" } });
    const { config, checks } = await runDoctor(io.env, { isSandboxSkipped: values["skip-sandbox"] === true });
    if (values.json) io.out(JSON.stringify(checks, null, 2));
    else printChecks(io, checks, config);
    return checks.some((c) => c.status === "fail") ? 1 : 0;
  },
};

function printChecks(io: CommandIO, checks: DoctorCheck[], config: Config | null): void {
  io.out(
    `ProxyStaff ${pkg.version} doctor${config ? ` — DATA_DIR ${config.DATA_DIR}, database ${displayUrl(config.DATABASE_URL)}` : ""}`,
  );
  io.out("");
  const width = Math.min(36, Math.max(...checks.map((c) => c.name.length)));
  for (const check of checks) {
    io.out(`${check.status.padEnd(5)} ${check.name.padEnd(width)}  ${check.detail}`);
    if (check.fix && check.status !== "ok") io.out(`      fix: ${check.fix}`);
  }
  const count = (status: DoctorCheck["status"]) => checks.filter((c) => c.status === status).length;
  io.out("");
  io.out(
    `${count("ok")} ok, ${count("warn")} warning(s), ${count("fail")} failed${count("fail") > 0 ? " — fix the failed checks above" : ""}`,
  );
}
