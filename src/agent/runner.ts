import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { AppContext } from "../context.ts";
import { errorMessage } from "../errors.ts";
import { redact } from "../log.ts";
import type { HealthContributor, Service } from "../ports.ts";
import type { AgentResult } from "./classify.ts";
import { classifyOutcome } from "./classify.ts";
import type { ResolvedAgentCommand } from "./command.ts";
import {
  AgentCommandNotFoundError,
  resolveAgentCommand,
  splitShellArgs,
  WARM_BLOCKED_FIX,
  warmBlockingArg,
} from "./command.ts";
import { DiskUsageCache } from "./disk-usage-cache.ts";
import type { McpConfigFile, ModelAccess, TenantConfigDir } from "./environment.ts";
import { buildAgentEnv, prepareTenantConfigDir, secretValuesOf, writeMcpConfigFile } from "./environment.ts";
import type { DiskGuardOptions } from "./limits.ts";
import { checkDiskBeforeRun } from "./limits.ts";
import {
  isGivenToRunUser,
  makeEntriesPrivate,
  makeTraversable,
  prepareRunOwnership,
  serverFoldersOnTheWay,
  unreachableFolders,
} from "./run-user.ts";
import type { SandboxStatus } from "./sandbox.ts";
import { checkSandbox, sandboxHealth, sandboxWrapper } from "./sandbox.ts";
import type { SpawnFunction } from "./spawn.ts";
import { readCapped, spawnProcessGroup } from "./spawn.ts";
import { warmFingerprint } from "./warm-fingerprint.ts";
import type { RetireReason } from "./warm-pool.ts";
import { WarmPool } from "./warm-pool.ts";
import { WarmProcess } from "./warm-process.ts";

export type { ProcessInput, SpawnedProcess, SpawnFunction, SpawnSpec } from "./spawn.ts";
export { readCapped, spawnProcessGroup } from "./spawn.ts";

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
  /** Keep a warm CLI process per recently active tenant in this pool (AGENT_WARM=on); absent = every run cold. */
  warm?: WarmPool;
}

/** The runner plus what it resolved at construction (for the start-up log and doctor). */
export interface ProcessAgentRunner extends AgentRunner {
  readonly command: ResolvedAgentCommand;
  /** How runs are isolated (for /health, the start-up log and doctor). */
  readonly sandbox: SandboxStatus;
  /** The argv of a run after `-p` (for docs and tests); the prompt is never in it (stdin), the MCP config is a file path. */
  argvFor(request: Pick<AgentRunRequest, "sessionId">, mcpConfigPath?: string): string[];
  /** The argv of a warm process after `-p` (stream-json in and out). */
  warmArgvFor(request: Pick<AgentRunRequest, "sessionId">, mcpConfigPath?: string): string[];
  /** The warm processes (null when every run is cold). */
  readonly warm: WarmPool | null;
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
  const pool = options.warm ?? null;
  const diskUsage = new DiskUsageCache();
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
      usageMemo: (quotaBytes, measure) => diskUsage.usage(request.tenantId, quotaBytes, measure),
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
    const mayGoWarm = pool !== null && !request.mcp && !request.model;
    const folders = [request.workspace, configDir.dir];
    // A follow-up to a warm process skips the recursive chown (a cold start still walks the tree): its folders were
    // given to the uid before, and whatever the server wrote since was created with the folder's owner.
    const alreadyGiven =
      mayGoWarm &&
      pool.hasIdle(request.tenantId) &&
      !configDir.credentialsCopied &&
      isGivenToRunUser(sandbox.runUser, request.uid, folders);
    try {
      if (!alreadyGiven) await prepareRunOwnership(sandbox.runUser, request.uid, folders);
    } catch (error) {
      return fail(`the tenant's folders could not be given to its uid: ${errorMessage(error)}`);
    }
    // The preparation above awaits (disk checks, chown): a lease lost meanwhile starts nothing.
    if (request.signal?.aborted) return fail(abortedError(request.signal));
    if (mayGoWarm) {
      const warm = await runWarm(pool, request, configDir, started);
      if (warm) return warm;
    }
    // A cold run's tokens (if the caller hands them out through `access`) live exactly as long as the run.
    const grant = request.access?.issue(request.runId ?? crypto.randomUUID());
    try {
      return await runCold(request, configDir, started, {
        mcp: request.mcp ?? grant?.mcp,
        model: request.model ?? grant?.model,
      });
    } finally {
      grant?.revoke();
    }
  }

  function agentEnv(request: AgentRunRequest, configDir: TenantConfigDir, model: ModelAccess | undefined) {
    const { env, dropped } = buildAgentEnv({
      config,
      hostEnv,
      tenantConfigDir: configDir.dir,
      timezone: request.timezone,
      tenantEnv: request.tenantEnv,
      ...(model ? { model } : {}),
    });
    if (dropped.length > 0)
      log.warn("tenant variables not passed to the agent", { tenantId: request.tenantId, names: dropped });
    return env;
  }

  async function runCold(
    request: AgentRunRequest,
    configDir: TenantConfigDir,
    started: number,
    access: { mcp: { url: string; token: string } | undefined; model: ModelAccess | undefined },
  ): Promise<AgentResult> {
    const fail = (error: string): AgentResult => ({ kind: "crash", error, durationMs: 0, exitCode: null });
    const env = agentEnv(request, configDir, access.model);
    let mcpFile: McpConfigFile | null = null;
    try {
      if (access.mcp) mcpFile = writeMcpConfigFile(configDir.dir, mcpConfigJson(access.mcp));
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
    return finish(request, result, access.model ? [access.model.token] : [], false);
  }

  /** Redacts the outcome and logs the run's line (`warm`: served by a process kept from an earlier turn). */
  async function finish(
    request: AgentRunRequest,
    result: AgentResult,
    tokens: string[],
    warm: boolean,
  ): Promise<AgentResult> {
    const redacted = redactResult(result, [...secretValuesOf(config, request.tenantEnv), ...tokens]);
    const fields = {
      tenantId: request.tenantId,
      kind: redacted.kind,
      sandbox: sandbox.mode,
      durationMs: redacted.durationMs,
      exitCode: redacted.exitCode,
      resumed: request.sessionId !== null,
      warm,
      ...(await request.usage?.()),
    };
    if (redacted.kind === "ok") log.info("agent run finished", fields);
    else log.warn("agent run failed", { ...fields, error: redacted.error });
    return redacted;
  }

  /**
   * A turn on the tenant's warm process: the one kept from its last turn when nothing it was started with changed
   * and no other process advanced the session since, else a new one (started like a cold run, in the same sandbox,
   * with `--resume`). Null when the pool has no room (every process busy): the run then goes cold.
   */
  async function runWarm(
    pool: WarmPool,
    request: AgentRunRequest,
    configDir: TenantConfigDir,
    started: number,
  ): Promise<AgentResult | null> {
    const runId = request.runId ?? crypto.randomUUID();
    const fingerprint = warmFingerprint(request, { extraArgs, sandbox: sandbox.mode, command: command.path });
    let proc = pool.take(request.tenantId);
    if (proc) {
      const stale =
        proc.fingerprint !== fingerprint
          ? "fingerprint_changed"
          : proc.sessionId !== request.sessionId ||
              (request.turnMark !== undefined && request.turnMark !== proc.lastRunId)
            ? "session_changed"
            : null;
      if (stale) {
        pool.retire(proc, stale);
        proc = null;
      }
    }
    const isWarm = proc !== null;
    if (proc) proc.renew(runId);
    else {
      if (!pool.makeRoom(request.tenantId)) return null;
      const spawned = spawnWarm(pool, request, configDir, fingerprint, runId);
      if (typeof spawned === "string") {
        return { kind: "crash", error: spawned, durationMs: 0, exitCode: null };
      }
      proc = spawned;
      pool.add(proc);
    }
    const outcome = await proc.turn(request.prompt, {
      timeoutMs: config.AGENT_TIMEOUT_MS,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    proc.turns += 1;
    const classified = classifyOutcome({
      ...outcome,
      memoryLimited: proc.memoryLimited,
      limitHit: proc.limitHit(),
      timeoutMs: config.AGENT_TIMEOUT_MS,
    });
    const result = { ...classified, durationMs: Math.round(performance.now() - started) };
    if (request.signal?.aborted) {
      void pool.retire(proc, "turn_failed");
      log.warn("agent run killed: aborted by the caller", {
        tenantId: request.tenantId,
        durationMs: result.durationMs,
        warm: isWarm,
      });
      return { kind: "crash", error: abortedError(request.signal), durationMs: result.durationMs, exitCode: null };
    }
    if (result.kind === "ok" && !outcome.ended) {
      proc.sessionId = result.sessionId;
      proc.lastRunId = runId;
      pool.release(proc);
    } else void pool.retire(proc, outcome.ended ? "exited" : "turn_failed");
    return finish(request, result, proc.secrets, isWarm);
  }

  /** Starts a tenant's warm process: the cold run's sandbox, uid, limits and environment; its tokens live as long as it. */
  function spawnWarm(
    pool: WarmPool,
    request: AgentRunRequest,
    configDir: TenantConfigDir,
    fingerprint: string,
    runId: string,
  ): WarmProcess | string {
    const grant = request.access?.issue(runId);
    const env = agentEnv(request, configDir, grant?.model);
    let mcpFile: McpConfigFile | null = null;
    try {
      if (grant?.mcp) mcpFile = writeMcpConfigFile(configDir.dir, mcpConfigJson(grant.mcp));
    } catch (error) {
      grant?.revoke();
      return `the run's MCP config file could not be written: ${errorMessage(error)}`;
    }
    const wrapped = wrap({
      argv: [command.path, "-p", ...warmArgvFor(request, mcpFile?.path)],
      workspace: request.workspace,
      tenantConfigDir: configDir.dir,
      platformCredentials: configDir.platformCredentials,
      command,
      uid: request.uid,
    });
    const release = () => {
      wrapped.dispose();
      mcpFile?.dispose();
      grant?.revoke();
    };
    const child = spawnOrNull({ argv: wrapped.argv, cwd: request.workspace, env, interactive: true });
    if (!child) {
      release();
      return `the agent CLI could not be started (${wrapped.argv[0]})`;
    }
    const proc = new WarmProcess({
      tenantId: request.tenantId,
      child,
      fingerprint,
      killGraceMs,
      stderrLimitBytes: outputLimit,
      resources: {
        dispose: release,
        renew: (id) => grant?.renew(id),
        memoryLimited: wrapped.memoryLimited,
        limitHit: () => wrapped.limitHit(),
        secrets: grant?.model ? [grant.model.token] : [],
      },
      onExit: (exited) => {
        if (!exited.busy) void pool.retire(exited, "exited");
      },
    });
    proc.sessionId = request.sessionId;
    log.info("warm agent started", { tenantId: request.tenantId, pid: proc.pid, resumed: request.sessionId !== null });
    return proc;
  }

  function warmArgvFor(request: Pick<AgentRunRequest, "sessionId">, mcpConfigPath?: string): string[] {
    const argv = ["--input-format", "stream-json", "--output-format", "stream-json", "--verbose"];
    if (request.sessionId) argv.push("--resume", request.sessionId);
    argv.push(...extraArgs);
    if (mcpConfigPath) argv.push("--mcp-config", mcpConfigPath);
    return argv;
  }

  const retire = (tenantId: string, reason: RetireReason) => pool?.retireTenant(tenantId, reason);
  return { run, retire, issuesTokens: true, command, sandbox, argvFor, warmArgvFor, warm: pool };
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
  /** This run's id (the tokens' caller: model usage is metered under it). Default: a random one. */
  runId?: string;
  /**
   * Issues the run's tokens (MCP tools, model gateway) when the runner decides how long they live: a cold run's die
   * with it, a warm process's live as long as the process and follow each turn. Used when `mcp`/`model` are absent.
   */
  access?: RunAccess;
  /**
   * The tenant's turn mark as read when the batch started (the run id of the last turn whose session was stored);
   * a warm process that did not produce it is retired (another process advanced the session). Absent = not checked.
   */
  turnMark?: string | null;
}

/** Hands out the tokens of one agent process, bound to a run. */
export interface RunAccess {
  issue(runId: string): RunGrant;
}

/** The tokens of one agent process. */
export interface RunGrant {
  mcp?: { url: string; token: string };
  model?: ModelAccess;
  /** Binds the tokens to a later run of the same (warm) process. */
  renew(runId: string): void;
  revoke(): void;
}

export type { AgentFailureKind, AgentResult } from "./classify.ts";

/** Runs the agent CLI once. */
export interface AgentRunner {
  run(request: AgentRunRequest): Promise<AgentResult>;
  /** Ends the tenant's warm process, if it has an idle one (the next turn starts cold with --resume). */
  retire?(tenantId: string, reason: RetireReason): void;
  /**
   * True: the runner issues each process's tokens itself from `request.access` (and decides how long they live).
   * Otherwise the caller issues the run's tokens and passes them as `mcp` / `model`.
   */
  readonly issuesTokens?: boolean;
}

/** The server's runner and what it contributes to /health. */
export interface AgentForServer {
  runner: AgentRunner;
  health: HealthContributor;
  /** The warm pool's idle check and its stop (every warm process ended); register before the conversation's. */
  services: Service[];
  /** The warm processes (AGENT_WARM=on), else null. */
  warm: WarmPool | null;
}

/** The pool of AGENT_WARM=on from the config. */
export function createWarmPool(ctx: Pick<AppContext, "config" | "log" | "clock">): WarmPool {
  return new WarmPool({
    max: ctx.config.AGENT_WARM_MAX,
    idleMs: ctx.config.AGENT_WARM_IDLE_MS,
    clock: ctx.clock,
    log: ctx.log.child({ module: "agent-warm" }),
  });
}

/**
 * Builds the runner for `serve`. A missing Claude CLI does not stop the server (operators can still set tenants
 * up through the admin API): it is logged loudly, /health says degraded, and each run fails with that reason.
 * A required sandbox that does not work (AGENT_SANDBOX=bwrap) still refuses to start.
 */
export function createAgentForServer(ctx: AppContext): AgentForServer {
  try {
    const blocking = ctx.config.AGENT_WARM === "on" ? warmBlockingArg(ctx.config.AGENT_ARGS) : null;
    if (blocking)
      ctx.log.warn("warm agents off: AGENT_ARGS sets the CLI's stream format", {
        arg: blocking,
        hint: WARM_BLOCKED_FIX,
      });
    const pool = ctx.config.AGENT_WARM === "on" && !blocking ? createWarmPool(ctx) : undefined;
    const runner = createAgentRunner(ctx, pool ? { warm: pool } : {});
    ctx.log.info("agent CLI found", {
      path: runner.command.path,
      source: runner.command.source,
      sandbox: runner.sandbox.mode,
      warm: pool ? { max: pool.options.max, idleMs: pool.options.idleMs } : "off",
    });
    if (!pool) return { runner, health: () => sandboxHealth(runner.sandbox), services: [], warm: null };
    ctx.metrics.agentWarm.setSource(() => {
      const stats = pool.stats();
      return { processes: stats.processes, rssBytes: stats.rssBytes };
    });
    return {
      runner,
      health: () => {
        const part = sandboxHealth(runner.sandbox);
        const stats = pool.stats();
        return {
          ...part,
          fields: {
            ...part.fields,
            agent_warm: { processes: stats.processes, busy: stats.busy, rss_bytes: stats.rssBytes, max: stats.max },
          },
        };
      },
      // Stopped after the conversation's dispatcher (services stop in reverse): its turns in flight finish first.
      services: [{ name: "agent-warm-pool", start: () => pool.start(), stop: () => pool.stop() }],
      warm: pool,
    };
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
      services: [],
      warm: null,
    };
  }
}
