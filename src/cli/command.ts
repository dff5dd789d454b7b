import type { Interface } from "node:readline";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { AppContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { isTenantId } from "../tenants/index.ts";

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

type Options = NonNullable<Parameters<typeof parseArgs>[0]>["options"];

/** node:util parseArgs with our error type: unknown flags and missing values become UsageError. */
export function parseCommandArgs<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.replace(/^TypeError \[\w+\]: /, "") : String(err));
  }
}

/**
 * One line reader over a stream for the whole process, for prompts. A fresh readline interface
 * per prompt loses input: the first one reads a whole chunk (several pasted or piped lines) and
 * closing it drops the rest, so the next prompt waits forever. Here every line is kept until a
 * prompt takes it; null once the input has ended and nothing is left.
 */
export function createLineReader(
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): (prompt: string) => Promise<string | null> {
  let rl: Interface | undefined;
  let ended = false;
  const lines: string[] = [];
  const waiting: ((line: string | null) => void)[] = [];

  function open(): Interface {
    const created = createInterface({ input, output });
    created.on("line", (line) => {
      const next = waiting.shift();
      if (next) next(line);
      else lines.push(line);
      if (waiting.length === 0) created.pause(); // between prompts the command may print freely
    });
    created.on("close", () => {
      ended = true;
      for (const next of waiting.splice(0)) next(null);
    });
    // Leave the terminal as it was (readline may have switched it to raw mode).
    process.once("exit", () => created.close());
    return created;
  }

  return (prompt) => {
    const ready = lines.shift();
    if (ready !== undefined) {
      // A terminal already echoed the line typed or pasted ahead; piped input gets its prompt, as before.
      if (!(output as { isTTY?: boolean }).isTTY) output.write(prompt);
      return Promise.resolve(ready);
    }
    if (ended) return Promise.resolve(null);
    rl ??= open();
    const reader = rl;
    return new Promise((resolve) => {
      waiting.push(resolve);
      reader.setPrompt(prompt);
      reader.prompt();
      reader.resume();
    });
  };
}

/** The tenant id at `positionals[0]`; UsageError when absent or not a UUID. */
export function tenantIdArg(positionals: string[], usage: string): string {
  const id = positionals[0];
  if (!id) throw new UsageError(`Missing <tenant-id>. ${usage}`);
  if (!isTenantId(id))
    throw new UsageError(`${JSON.stringify(positionals[0]?.slice(0, 60))} is not a tenant id (a UUID).`);
  if (positionals.length > 1) throw new UsageError(`Unexpected argument: ${positionals[1]}`);
  return id;
}

/** Asks for a value on the terminal; null when stdin is not a terminal or the answer is empty. */
export async function ask(io: CommandIO, question: string): Promise<string | null> {
  if (!io.isInteractive) return null;
  const answer = (await io.readLine(`${question}: `))?.trim();
  return answer ? answer : null;
}

/** Prints an object as pretty JSON (for --json). */
export function printJson(io: CommandIO, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
