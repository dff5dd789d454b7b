import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { AppContext } from "../context.ts";
import { errorMessage } from "../errors.ts";
import { redact } from "../log.ts";
import type { HealthContributor } from "../ports.ts";
import type { AgentResult } from "./classify.ts";
import { classifyOutcome } from "./classify.ts";
import type { ResolvedAgentCommand } from "./command.ts";
import { AgentCommandNotFoundError, resolveAgentCommand, splitShellArgs } from "./command.ts";
import type { McpConfigFile, ModelAccess, TenantConfigDir } from "./environment.ts";
import { buildAgentEnv, prepareTenantConfigDir, secretValuesOf, writeMcpConfigFile } from "./environment.ts";
import type { DiskGuardOptions } from "./limits.ts";
import { checkDiskBeforeRun } from "./limits.ts";
import {
  makeEntriesPrivate,
  makeTraversable,
  prepareRunOwnership,
  serverFoldersOnTheWay,
  unreachableFolders,
} from "./run-user.ts";
import type { SandboxStatus } from "./sandbox.ts";
import { checkSandbox, sandboxHealth, sandboxWrapper } from "./sandbox.ts";

export interface AgentRunnerOptions {
  /** Starts the CLI process (default: Bun.spawn in its own session/process group). */
  spawn?: SpawnFunction;
  /** The CLI to run; default resolved from AGENT_COMMAND, the project's node_modules/.bin/claude, then PATH. */
  command?: ResolvedAgentCommand;
  /** The server's environment; only PATH and LANG are taken from it. Default process.env. */
  hostEnv?: Record<string, string | undefined>;
  /** SIGTERM -> SIGKILL grace after the time limit. Default 3000 ms. */
  killGraceMs?: number;
  /** Bytes of stdout and of stderr kept per run. Default 4 MiB. */
  outputLimitBytes?: number;
  /** The sandbox decision; default: `checkSandbox` now (AGENT_SANDBOX=bwrap and a failing check throws). */
  sandbox?: SandboxStatus;
  /** The disk checks before each run (statfs, measurement time limit); default: the real ones. */
  disk?: DiskGuardOptions;
}

/** The runner plus what it resolved at construction (for the start-up log and doctor). */
export interface ProcessAgentRunner extends AgentRunner {
  readonly command: ResolvedAgentCommand;
  /** How runs are isolated (for /health, the start-up log and doctor). */
  readonly sandbox: SandboxStatus;
  /** The argv of a run after `-p` (for docs and tests); the prompt is never in it (stdin), the MCP config is a file path. */
  argvFor(request: Pick<AgentRunRequest, "sessionId">, mcpConfigPath?: string): string[];
}

/**
 * Creates the runner that spawns the Claude Code CLI once per run: `claude -p --output-format json
 * [--resume <id>] <AGENT_ARGS> [--mcp-config <file>]` in the tenant's workspace, the prompt on stdin (argv is
 * readable by every local user: neither the prompt nor the MCP token goes there), with a minimal environment,
 * killed as a process group past AGENT_TIMEOUT_MS, its outcome classified (never thrown).
 */
export function createAgentRunner(
  ctx: Pick<AppContext, "config" | "log">,
  options: AgentRunnerOptions = {},
): ProcessAgentRunner {
  const { config } = ctx;
  const log = ctx.log.child({ module: "agent" });
  const hostEnv = options.hostEnv ?? process.env;
  const command = options.command ?? resolveAgentCommand(config.AGENT_COMMAND, { path: hostEnv.PATH });
  const extraArgs = splitShellArgs(config.AGENT_ARGS);
  const spawn = options.spawn ?? spawnProcessGroup;
  const killGraceMs = options.killGraceMs ?? 3000;
  const outputLimit = options.outputLimitBytes ?? 4 * 1024 * 1024;
  const sandbox = options.sandbox ?? checkSandbox(config, command, { log, hostPath: hostEnv.PATH });
  const wrap = sandboxWrapper(sandbox);
  const onTheWay = serverFoldersOnTheWay(config);
  makeTraversable(sandbox.runUser, onTheWay);
  // DATA_DIR and CLAUDE_CONFIG_DIR hold the server's secrets beside the way through: those must stay private.
  for (const dir of [resolve(config.DATA_DIR), resolve(config.CLAUDE_CONFIG_DIR)]) {
    if (onTheWay.includes(dir)) makeEntriesPrivate(sandbox.runUser, dir, onTheWay, log);
  }
  const blocked = unreachableFolders(sandbox.runUser, onTheWay);
  if (blocked.length > 0) {
    log.error(
      "tenant uids cannot reach their folders: every agent run will fail until the folders above are passable (chmod o+x)",
      { folders: blocked },
    );
  }

  function spawnOrNull(spec: Parameters<SpawnFunction>[0]) {
    try {
      return spawn(spec);
    } catch (error) {
      log.error("agent spawn failed", { error });
      return null;
    }
  }

  function argvFor(request: Pick<AgentRunRequest, "sessionId">, mcpConfigPath?: string): string[] {
    const argv = ["--output-format", "json"];
    if (request.sessionId) argv.push("--resume", request.sessionId);
    argv.push(...extraArgs);
    if (mcpConfigPath) argv.push("--mcp-config", mcpConfigPath);
    return argv;
  }

  async function run(request: AgentRunRequest): Promise<AgentResult> {
    const started = performance.now();
    const fail = (error: string): AgentResult => ({ kind: "crash", error, durationMs: 0, exitCode: null });
    if (request.signal?.aborted) return fail(abortedError(request.signal));
    if (
      !isAbsolute(request.workspace) ||
      !existsSync(request.workspace) ||
      !statSync(request.workspace).isDirectory()
    ) {
      return fail(`the tenant workspace ${request.workspace} does not exist`);
    }
    let configDir: TenantConfigDir;
    try {
      configDir = prepareTenantConfigDir(config.CLAUDE_CONFIG_DIR, request.tenantId, config.MODEL_GATEWAY === "off");
    } catch (error) {
      return fail(`the tenant's CLI directory could not be prepared: ${errorMessage(error)}`);
    }
    const refusal = await checkDiskBeforeRun(config, [request.workspace, configDir.dir], {
      ...options.disk,
      warn: (msg, fields) => log.warn(msg, { tenantId: request.tenantId, ...fields }),
    });
    if (refusal) {
      log.warn("agent run refused", { tenantId: request.tenantId, kind: refusal.kind, error: refusal.error });
      return {
        kind: refusal.kind,
        error: refusal.error,
        durationMs: Math.round(performance.now() - started),
        exitCode: null,
      };
    }
    try {
      await prepareRunOwnership(sandbox.runUser, request.uid, [request.workspace, configDir.dir]);
    } catch (error) {
      return fail(`the tenant's folders could not be given to its uid: ${errorMessage(error)}`);
    }
    const { env, dropped } = buildAgentEnv({
      config,
      hostEnv,
      tenantConfigDir: configDir.dir,
      timezone: request.timezone,
      tenantEnv: request.tenantEnv,
      ...(request.model ? { model: request.model } : {}),
    });
    if (dropped.length > 0)
      log.warn("tenant variables not passed to the agent", { tenantId: request.tenantId, names: dropped });

    // The preparation above awaits (disk checks, chown): a lease lost meanwhile starts nothing.
    if (request.signal?.aborted) return fail(abortedError(request.signal));
    let mcpFile: McpConfigFile | null = null;
    try {
      if (request.mcp) mcpFile = writeMcpConfigFile(configDir.dir, mcpConfigJson(request.mcp));
    } catch (error) {
      return fail(`the run's MCP config file could not be written: ${errorMessage(error)}`);
    }
    const cliArgv = [command.path, "-p", ...argvFor(request, mcpFile?.path)];
    const wrapped = wrap({
      argv: cliArgv,
      workspace: request.workspace,
      tenantConfigDir: configDir.dir,
      platformCredentials: configDir.platformCredentials,
      command,
      uid: request.uid,
    });

    const child = spawnOrNull({ argv: wrapped.argv, cwd: request.workspace, env, stdin: request.prompt });
    if (!child) {
      wrapped.dispose();
      mcpFile?.dispose();
      return fail(`the agent CLI could not be started (${wrapped.argv[0]})`);
    }
    let timedOut = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const timeoutTimer = setTimeout(() => {
      timedOut = true;
      child.killGroup("SIGTERM");
      killTimer = setTimeout(() => child.killGroup("SIGKILL"), killGraceMs);
    }, config.AGENT_TIMEOUT_MS);

    // The caller lost the right to this run (its lease): the whole group goes at once, no grace.
    const onAbort = () => child.killGroup("SIGKILL");
    request.signal?.addEventListener("abort", onAbort, { once: true });
    if (request.signal?.aborted) onAbort(); // aborted between the check above and the listener: no event comes

    const stdoutP = readCapped(child.stdout, outputLimit);
    const stderrP = readCapped(child.stderr, outputLimit);
    const exit = await child.exited;
    clearTimeout(timeoutTimer);
    request.signal?.removeEventListener("abort", onAbort);
    // Whatever the CLI's tools left running (a background job holding the pipes) goes with it.
    child.killGroup("SIGKILL");
    clearTimeout(killTimer);
    const [stdout, stderr] = await Promise.all([stdoutP, stderrP]);
    const limitHit = wrapped.limitHit();
    wrapped.dispose();
    mcpFile?.dispose();

    const result = classifyOutcome({
      exitCode: exit.exitCode,
      signal: exit.signal,
      stdout: stdout.text,
      stderr: stderr.text,
      timedOut,
      durationMs: Math.round(performance.now() - started),
      memoryLimited: wrapped.memoryLimited,
      limitHit,
      timeoutMs: config.AGENT_TIMEOUT_MS,
    });
    if (request.signal?.aborted) {
      log.warn("agent run killed: aborted by the caller", {
        tenantId: request.tenantId,
        durationMs: result.durationMs,
      });
      return {
        kind: "crash",
        error: abortedError(request.signal),
        durationMs: result.durationMs,
        exitCode: exit.exitCode,
      };
    }
    const redacted = redactResult(result, [
      ...secretValuesOf(config, request.tenantEnv),
      ...(request.model ? [request.model.token] : []),
    ]);
    const fields = {
      tenantId: request.tenantId,
      kind: redacted.kind,
      sandbox: sandbox.mode,
      durationMs: redacted.durationMs,
      exitCode: redacted.exitCode,
      resumed: request.sessionId !== null,
      ...(await request.usage?.()),
    };
    if (redacted.kind === "ok") log.info("agent run finished", fields);
    else log.warn("agent run failed", { ...fields, error: redacted.error });
    return redacted;
  }

  return { run, command, sandbox, argvFor };
}

function abortedError(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return `aborted: ${errorMessage(reason)}`;
}

/** The `--mcp-config` JSON (written to the run's file) for the ProxyStaff MCP endpoint (the CLI ignores entries without "type"). */
export function mcpConfigJson(mcp: { url: string; token: string }): string {
  return JSON.stringify({
    mcpServers: { proxystaff: { type: "http", url: mcp.url, headers: { Authorization: `Bearer ${mcp.token}` } } },
  });
}

function redactResult(result: AgentResult, secrets: string[]): AgentResult {
  if (result.kind === "ok") return result;
  return { ...result, error: redact(result.error, secrets) };
}

/** What the runner asks for: one process, its own process group, output captured. */
export interface SpawnSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Written to stdin and closed; absent = stdin is /dev/null (an open pipe costs the CLI a 3 s wait). */
  stdin?: string;
}

/** A started process, as the runner needs it. */
export interface SpawnedProcess {
  pid: number;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Resolves when the process has exited. */
  exited: Promise<{ exitCode: number | null; signal: string | null }>;
  /** Sends a signal to the whole process group (the CLI and everything its tools started). */
  killGroup(signal: "SIGTERM" | "SIGKILL"): void;
}

/** Starts a process; injectable so unit tests can hand in stand-ins. */
export type SpawnFunction = (spec: SpawnSpec) => SpawnedProcess;

/** The default spawner: Bun.spawn in a new session (setsid), so the group can be killed as a whole. */
export const spawnProcessGroup: SpawnFunction = (spec) => {
  const child = Bun.spawn(spec.argv, {
    cwd: spec.cwd,
    env: spec.env,
    stdin: spec.stdin === undefined ? "ignore" : new Blob([spec.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const exited = child.exited.then(() => ({
    exitCode: child.exitCode,
    signal: child.signalCode === null ? null : String(child.signalCode),
  }));
  return {
    pid: child.pid,
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    killGroup(signal) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone (ESRCH): nothing left to kill.
      }
    },
  };
};

/** Reads a stream to text, keeping at most `limitBytes` (the rest is drained and dropped). */
export async function readCapped(
  stream: ReadableStream<Uint8Array>,
  limitBytes: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let truncated = false;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (kept >= limitBytes) {
      truncated = true;
      continue;
    }
    const room = limitBytes - kept;
    const piece = value.byteLength > room ? value.subarray(0, room) : value;
    if (piece.byteLength < value.byteLength) truncated = true;
    chunks.push(piece);
    kept += piece.byteLength;
  }
  return { text: Buffer.concat(chunks).toString("utf8"), truncated };
}

/** The result of a run that may have been retried without `--resume`. */
export type RetriedAgentResult = AgentResult & {
  /** True when the stored session was stale and the run was repeated fresh (store the new session id). */
  sessionReset: boolean;
};

/**
 * Runs the agent; when the stored session is unknown to the CLI (`session_not_found`, e.g. its transcript is
 * gone), runs once more without `--resume`. The caller stores `result.sessionId` when `kind` is "ok" either way.
 */
export async function runWithSessionRetry(runner: AgentRunner, request: AgentRunRequest): Promise<RetriedAgentResult> {
  const first = await runner.run(request);
  if (first.kind !== "session_not_found" || request.sessionId === null) return { ...first, sessionReset: false };
  const fresh = await runner.run({ ...request, sessionId: null });
  return { ...fresh, durationMs: first.durationMs + fresh.durationMs, sessionReset: true };
}

/** One agent run: messages in, classified result out (independent of how the CLI process is obtained). */
export interface AgentRunRequest {
  tenantId: string;
  /** Absolute path of the tenant's workspace (the CLI's cwd). */
  workspace: string;
  /** The tenant's host uid (tenants.uid, see tenantUid): the run executes as it when the server is root. */
  uid: number;
  prompt: string;
  /** The CLI session to resume, or null for a fresh one. */
  sessionId: string | null;
  /** The tenant's own environment (.env merged with vault credentials); the runner adds the minimal base. */
  tenantEnv: Record<string, string>;
  /** IANA zone of the tenant (TZ of the process). */
  timezone: string;
  /** MCP endpoint and per-run token for the ProxyStaff tools, when the server offers them. */
  mcp?: { url: string; token: string };
  /** The model gateway and this run's token (MODEL_GATEWAY=on); without it, a gateway-on run has no model login. */
  model?: ModelAccess;
  /** The run's model tokens and cost, read after the CLI exits, for the "agent run finished" log line. */
  usage?: () => Promise<Record<string, number> | null>;
  /** Aborting it kills the run's process group at once (SIGKILL); the run then ends as a crash "aborted: …". */
  signal?: AbortSignal;
}

export type { AgentFailureKind, AgentResult } from "./classify.ts";

/** Runs the agent CLI once. */
export interface AgentRunner {
  run(request: AgentRunRequest): Promise<AgentResult>;
}

/** The server's runner and what it contributes to /health. */
export interface AgentForServer {
  runner: AgentRunner;
  health: HealthContributor;
}

/**
 * Builds the runner for `serve`. A missing Claude CLI does not stop the server (operators can still set tenants
 * up through the admin API): it is logged loudly, /health says degraded, and each run fails with that reason.
 * A required sandbox that does not work (AGENT_SANDBOX=bwrap) still refuses to start.
 */
export function createAgentForServer(ctx: AppContext): AgentForServer {
  try {
    const runner = createAgentRunner(ctx);
    ctx.log.info("agent CLI found", {
      path: runner.command.path,
      source: runner.command.source,
      sandbox: runner.sandbox.mode,
    });
    return { runner, health: () => sandboxHealth(runner.sandbox) };
  } catch (error) {
    if (!(error instanceof AgentCommandNotFoundError)) throw error;
    ctx.log.error("agent CLI not found: messages will be answered with a failure until it is installed", {
      error: error.message,
    });
    return {
      runner: {
        run: async () => ({
          kind: "crash",
          error: `agent CLI unavailable: ${error.message}`,
          durationMs: 0,
          exitCode: null,
        }),
      },
      health: () => ({ fields: { agent: "unavailable", agent_error: error.message }, degraded: true }),
    };
  }
}
