import { existsSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";

/** How the agent CLI was found: the path to exec, and where its own files live (bound read-only in the sandbox). */
export interface ResolvedAgentCommand {
  /** Absolute path (symlinks resolved) of the executable. */
  path: string;
  /** What the sandbox binds read-only so the CLI can run: its npm package directory, else the executable itself. */
  ownFiles: string;
  /** How it was found, for the start-up log: "AGENT_COMMAND", "node_modules" or "PATH". */
  source: "AGENT_COMMAND" | "node_modules" | "PATH";
}

/** Raised when no agent CLI can be found. */
export class AgentCommandNotFoundError extends Error {
  override name = "AgentCommandNotFoundError";
}

export interface ResolveAgentCommandOptions {
  /** Directories whose `node_modules/.bin/claude` is tried first. Default: the package root of this source tree, the executable's directory, the cwd. */
  searchRoots?: string[];
  /** PATH used for bare names. */
  path?: string;
}

/**
 * Finds the agent CLI. With `AGENT_COMMAND` set: that path, or that name on PATH. Otherwise the project's
 * own `node_modules/.bin/claude` (so `npm install && npm start` has an agent), looked for next to this source
 * tree, next to the running executable (a compiled `proxystaff` binary) and in the working directory;
 * finally `claude` on PATH.
 */
export function resolveAgentCommand(
  agentCommand: string | undefined,
  options: ResolveAgentCommandOptions = {},
): ResolvedAgentCommand {
  const pathVar = options.path ?? "";
  if (agentCommand) {
    const found = agentCommand.includes("/") ? resolve(agentCommand) : findOnPath(agentCommand, pathVar);
    if (!found || !isExecutableFile(found)) {
      throw new AgentCommandNotFoundError(
        `AGENT_COMMAND ${JSON.stringify(agentCommand)} is not an executable file${agentCommand.includes("/") ? "" : " on PATH"}`,
      );
    }
    return describe(found, "AGENT_COMMAND");
  }
  const roots = options.searchRoots ?? defaultSearchRoots();
  for (const root of roots) {
    const candidate = join(root, "node_modules", ".bin", "claude");
    if (isExecutableFile(candidate)) return describe(candidate, "node_modules");
  }
  const onPath = findOnPath("claude", pathVar);
  if (onPath) return describe(onPath, "PATH");
  throw new AgentCommandNotFoundError(
    "The Claude Code CLI was not found. From a source checkout: run `npm install` (it is a dependency). " +
      "With the proxystaff binary or the Docker image: install it (`npm i -g @anthropic-ai/claude-code@2.1.332`, so `claude` is on PATH), " +
      "or set AGENT_COMMAND to its path",
  );
}

/** Splits AGENT_ARGS like a POSIX shell would (quotes and backslashes; no expansion). */
export function splitShellArgs(text: string): string[] {
  const args: string[] = [];
  let current = "";
  let inToken = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else current += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === "\\" && i + 1 < text.length && '"\\$`'.includes(text[i + 1] as string)) current += text[++i];
      else current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inToken = true;
    } else if (ch === "\\" && i + 1 < text.length) {
      current += text[++i];
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) args.push(current);
      current = "";
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote) throw new Error(`AGENT_ARGS has an unterminated ${quote} quote`);
  if (inToken) args.push(current);
  return args;
}

function defaultSearchRoots(): string[] {
  // src/agent/ -> package root; in a compiled binary import.meta.dir is virtual ($bunfs) and simply not found.
  const roots = [resolve(import.meta.dir, "..", ".."), dirname(process.execPath), process.cwd()];
  return [...new Set(roots)];
}

function findOnPath(name: string, pathVar: string): string | undefined {
  for (const dir of pathVar.split(":")) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    const stat = statSync(path);
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function describe(path: string, source: ResolvedAgentCommand["source"]): ResolvedAgentCommand {
  const real = realpathSync(path);
  return { path: real, ownFiles: findOwnFiles(real), source };
}

/** An npm-installed CLI: the nearest package directory below node_modules; anything else: the file itself. */
function findOwnFiles(executable: string): string {
  if (!executable.includes("/node_modules/")) return executable;
  let dir = dirname(executable);
  while (dir.includes("/node_modules/")) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  return executable;
}

/**
 * The AGENT_ARGS flag that keeps warm agents from working, or null: a warm process speaks stream-json on stdin and
 * stdout, and a later `--output-format`/`--input-format` in AGENT_ARGS would override that (every turn would fail).
 */
export function warmBlockingArg(agentArgs: string): string | null {
  return splitShellArgs(agentArgs).find((arg) => /^--(output|input)-format(=|$)/.test(arg)) ?? null;
}

/** What to do about a warmBlockingArg. */
export const WARM_BLOCKED_FIX =
  "remove --output-format/--input-format from AGENT_ARGS (the runner chooses the format) to have warm agents";
