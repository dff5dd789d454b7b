import type { AppContext } from "../context.ts";

/** Where a command writes; tests capture it. */
export interface CommandIO {
  out(line: string): void;
  err(line: string): void;
  /** The process environment the command was started with. */
  env: Record<string, string | undefined>;
  /** True when stdin is a terminal a person can answer prompts on. */
  isInteractive: boolean;
  /** Reads one line from stdin (prompts); null at end of input. */
  readLine(prompt: string): Promise<string | null>;
}

interface CommandBase {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full --help text (usage line first). */
  help: string;
}

/** A command run with the database context (config loaded, database opened and migrated): most of them. */
export interface ContextCommand extends CommandBase {
  needsContext?: true;
  /** Runs the command; the returned number is the exit code. */
  run(args: string[], io: CommandIO, ctx: AppContext): Promise<number>;
}

/** A command that loads what it needs itself (e.g. `doctor`, which must report a broken config or database). */
export interface StandaloneCommand extends CommandBase {
  needsContext: false;
  /** Runs the command; the returned number is the exit code. */
  run(args: string[], io: CommandIO): Promise<number>;
}

/** One `proxystaff <name>` command. */
export type Command = ContextCommand | StandaloneCommand;

/** Raised for bad command-line input: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
