import pkg from "../../package.json" with { type: "json" };
import type { Config } from "../config.ts";
import { ConfigError, loadConfig, platformSecrets } from "../config.ts";
import type { AppContext } from "../context.ts";
import { errorMessage, UsageError } from "../errors.ts";
import { createLogger, redact, resolveLogFormat } from "../log.ts";
import { createContext } from "../runtime.ts";
import type { Command, CommandIO } from "./command.ts";
import { createLineReader } from "./command.ts";
import { commands } from "./commands.ts";

/** The top-level help: every command with its summary. */
export function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `ProxyStaff ${pkg.version}: an AI member of staff for every small business.`,
    "",
    "Usage: proxystaff <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `proxystaff <command> --help` for a command's options. `proxystaff --version` prints the version.",
  ].join("\n");
}

/** The standard IO of a process. */
export function processIO(env: Record<string, string | undefined>): CommandIO {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env,
    isInteractive: Boolean(process.stdin.isTTY),
    readLine: createLineReader(),
  };
}

/** Runs `proxystaff <argv…>` and returns the exit code. */
export async function runCli(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(mainHelp());
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    io.out(pkg.version);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`Unknown command: ${name}\n`);
    io.err(mainHelp());
    return 2;
  }
  if (args.includes("--help") || args.includes("-h")) {
    io.out(command.help);
    return 0;
  }
  return runCommand(command, args, io);
}

/** Runs one command by name with its own context (the scripts/ wrappers use this). */
export async function runNamedCommand(name: string, args: string[], io: CommandIO): Promise<number> {
  return runCli([name, ...args], io);
}

async function runCommand(command: Command, args: string[], io: CommandIO): Promise<number> {
  let ctx: AppContext | undefined;
  let secrets: string[] = [];
  const printError = (text: string) => io.err(redact(text, secrets));
  try {
    // Standalone commands load config and database themselves (and report what is wrong with them).
    if (command.needsContext === false) return await command.run(args, io);
    const config = loadConfig(io.env);
    secrets = platformSecrets(config);
    const isServe = command.name === "serve";
    printNotices(isServe ? config.notices : config.notices.filter((n) => n.level === "info"), isServe ? undefined : io);
    ctx = await createContext(config, {
      // `migrate` applies (and reports) the migrations itself; everything else starts on a current schema.
      migrate: command.name !== "migrate",
      log: isServe ? undefined : commandLog(config),
    });
    return await command.run(args, io, ctx);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      printError(err.message);
      if (err instanceof UsageError) io.err(`\n${command.help}`);
      return 2;
    }
    if (err instanceof Error && "code" in err && typeof err.code === "string" && err.name !== "Error") {
      printError(`Error (${err.code}): ${err.message}`);
      return 1;
    }
    printError(`Error: ${errorMessage(err)}`);
    return 1;
  } finally {
    if (command.name !== "serve") await ctx?.database.close().catch(() => {});
  }
}

/**
 * Start-up notices (generated secrets, the CREDENTIALS_KEY warning), written before the redacting
 * logger exists: a generated admin key is shown here, once, on purpose. The server writes them as
 * JSON log lines on stdout; one-shot commands (which may be the first to generate the key) as plain
 * lines on stderr (only the generated-secret notes), so their stdout stays the command's own output.
 */
function printNotices(notices: readonly { level: "info" | "warn"; msg: string }[], commandIO?: CommandIO): void {
  for (const n of notices) {
    if (commandIO) commandIO.err(`${n.level === "warn" ? "Warning" : "Note"}: ${n.msg}`);
    else process.stdout.write(`${JSON.stringify({ level: n.level, time: new Date().toISOString(), msg: n.msg })}\n`);
  }
}

/** One-shot commands print for people; their log keeps to warnings and errors, on stderr. */
function commandLog(config: Config) {
  return createLogger({
    level: config.LOG_LEVEL === "debug" ? "debug" : "warn",
    redact: platformSecrets(config),
    write: (line) => process.stderr.write(`${line}\n`),
    format: resolveLogFormat(config.LOG_FORMAT, process.stderr),
  });
}
