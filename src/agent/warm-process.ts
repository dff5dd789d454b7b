import type { SpawnedProcess } from "./spawn.ts";

/** How one turn on a warm process ended, before classification (classifyOutcome takes it with the run's limits). */
export interface WarmTurnOutcome {
  exitCode: number | null;
  signal: string | null;
  /** The `result` event's line, or "" when the process ended without one. */
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
  /** The process is gone (exited, killed): it cannot serve another turn. */
  ended: boolean;
}

/** What a warm process holds besides the process itself: released once, when it is retired. */
export interface WarmResources {
  /** The run's cgroup and scratch (PreparedRun.dispose), the MCP config file, the tokens (revoke). */
  dispose(): void;
  /** Binds its tokens (MCP, model gateway) to the turn now running (usage is metered per turn). */
  renew(runId: string): void;
  /** A memory cap was in force (see ProcessOutcome.memoryLimited). */
  memoryLimited: boolean;
  /** The limit its cgroup recorded hitting, if any. */
  limitHit(): "processes" | "memory" | null;
  /** Its token values, redacted from what the runner reports. */
  secrets: string[];
}

export interface WarmProcessOptions {
  tenantId: string;
  child: SpawnedProcess;
  /** What it was started with (credentials, .env, CLAUDE.md, AGENT_ARGS, sandbox): another value retires it. */
  fingerprint: string;
  resources: WarmResources;
  /** SIGTERM → SIGKILL grace after a turn's time limit, and how long a retired process may take to exit. */
  killGraceMs: number;
  /** Bytes of stderr kept per turn. */
  stderrLimitBytes: number;
  /** Called once when the process has exited, whatever the cause. */
  onExit(process: WarmProcess): void;
}

interface PendingTurn {
  resolve(outcome: WarmTurnOutcome): void;
  startedMs: number;
  timedOut: boolean;
}

/** The user line of one turn on the CLI's stream-json stdin (the prompt never goes in argv). */
export function userLine(prompt: string): string {
  return `${JSON.stringify({ type: "user", message: { role: "user", content: prompt } })}\n`;
}

/**
 * One `claude -p --input-format stream-json --output-format stream-json` process kept for a tenant: each turn
 * writes one user line on its stdin and ends at the next `result` event (or when the process ends).
 * Turns are serial: the pool hands a process to one turn at a time.
 */
export class WarmProcess {
  readonly tenantId: string;
  readonly fingerprint: string;
  readonly pid: number;
  /** The CLI session this process last answered in (compared with the stored one before each turn). */
  sessionId: string | null = null;
  /** The run id of its last successful turn (the stored turn mark matches it unless another process ran since). */
  lastRunId: string | null = null;
  /** Clock time of its last use (LRU order and the idle timeout). */
  lastUsedMs = 0;
  busy = false;
  turns = 0;
  #ended = false;
  #retired: Promise<void> | null = null;
  #pending: PendingTurn | null = null;
  #stderr = "";
  /** A start-up error `result` seen this turn: the CLI exits right after it (stderr and exit code then count). */
  #errorResult: string | null = null;
  #errorTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #options: WarmProcessOptions;
  readonly #exited: Promise<{ exitCode: number | null; signal: string | null }>;

  constructor(options: WarmProcessOptions) {
    this.#options = options;
    this.tenantId = options.tenantId;
    this.fingerprint = options.fingerprint;
    this.pid = options.child.pid;
    void this.#readStdout(options.child.stdout);
    void this.#readStderr(options.child.stderr);
    this.#exited = options.child.exited.then((exit) => {
      this.#ended = true;
      // Whatever the CLI's tools left running goes with it (as after a cold run).
      options.child.killGroup("SIGKILL");
      this.#finishTurn({ ...exit, stdout: this.#errorResult ?? "", ended: true });
      options.onExit(this);
      return exit;
    });
  }

  renew(runId: string): void {
    this.#options.resources.renew(runId);
  }

  get memoryLimited(): boolean {
    return this.#options.resources.memoryLimited;
  }

  limitHit(): "processes" | "memory" | null {
    return this.#options.resources.limitHit();
  }

  get secrets(): string[] {
    return this.#options.resources.secrets;
  }

  /** The process has exited (or was killed). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Runs one turn: the prompt as a user line, the outcome at the `result` event, a timeout or the process's end. */
  turn(prompt: string, limits: { timeoutMs: number; signal?: AbortSignal }): Promise<WarmTurnOutcome> {
    const startedMs = performance.now();
    if (this.#ended || this.#pending) {
      return Promise.resolve({
        exitCode: null,
        signal: null,
        stdout: "",
        stderr: this.#ended ? "the warm agent process had already exited" : "the warm agent process is busy",
        timedOut: false,
        durationMs: 0,
        ended: this.#ended,
      });
    }
    const { child, killGraceMs } = this.#options;
    return new Promise<WarmTurnOutcome>((resolve) => {
      let killTimer: ReturnType<typeof setTimeout> | undefined;
      const pending: PendingTurn = { resolve, startedMs, timedOut: false };
      const timer = setTimeout(() => {
        pending.timedOut = true;
        child.killGroup("SIGTERM");
        killTimer = setTimeout(() => child.killGroup("SIGKILL"), killGraceMs);
      }, limits.timeoutMs);
      // The caller lost the right to this turn (its lease): the whole group goes at once, no grace.
      const onAbort = () => child.killGroup("SIGKILL");
      pending.resolve = (outcome) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        limits.signal?.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
      this.#pending = pending;
      limits.signal?.addEventListener("abort", onAbort, { once: true });
      if (limits.signal?.aborted) onAbort();
      try {
        if (!child.input) throw new Error("the process has no open stdin");
        child.input.write(userLine(prompt));
      } catch {
        // The process is going away: its exit finishes the turn as a crash.
        child.killGroup("SIGKILL");
      }
    });
  }

  /** Ends the process: stdin closed (the CLI saves its session and exits), then its whole group killed. Idempotent. */
  retire(): Promise<void> {
    this.#retired ??= (async () => {
      const { child, killGraceMs, resources } = this.#options;
      child.input?.end();
      const exitedInTime = await Promise.race([
        this.#exited.then(() => true),
        Bun.sleep(killGraceMs).then(() => false),
      ]);
      child.killGroup("SIGKILL");
      if (!exitedInTime) await this.#exited;
      resources.dispose();
    })();
    return this.#retired;
  }

  /** Ends the process at once (SIGKILL to its group) and releases what it held. */
  kill(): Promise<void> {
    this.#options.child.killGroup("SIGKILL");
    return this.retire();
  }

  #finishTurn(outcome: Omit<WarmTurnOutcome, "stderr" | "timedOut" | "durationMs">): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = null;
    clearTimeout(this.#errorTimer);
    this.#errorResult = null;
    const stderr = this.#stderr;
    this.#stderr = "";
    pending.resolve({
      ...outcome,
      stderr,
      timedOut: pending.timedOut,
      durationMs: Math.round(performance.now() - pending.startedMs),
    });
  }

  async #readStdout(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const result = resultEvent(line);
        if (result === "ok") this.#finishTurn({ exitCode: 0, signal: null, stdout: line, ended: false });
        else if (result === "error" && this.#pending) {
          this.#errorResult = line;
          this.#errorTimer = setTimeout(
            () => this.#finishTurn({ exitCode: 0, signal: null, stdout: line, ended: false }),
            ERROR_EXIT_WAIT_MS,
          );
        }
      }
      // A line longer than the cap is not a result the runner can use: drop it instead of growing without bound.
      if (buffer.length > 4 * 1024 * 1024) buffer = "";
    }
  }

  async #readStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const limit = this.#options.stderrLimitBytes;
    for await (const chunk of stream) {
      if (this.#stderr.length < limit) this.#stderr += decoder.decode(chunk, { stream: true }).slice(0, limit);
    }
  }
}

/** How long an error result waits for the process's exit (its stderr says e.g. "No conversation found"). */
const ERROR_EXIT_WAIT_MS = 1000;

/** Whether a line is the stream's `result` event (the turn's end) and a start-up error; the classifier checks the shape. */
function resultEvent(line: string): "ok" | "error" | null {
  if (!line.includes('"result"')) return null;
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof event !== "object" || event === null) return null;
  const {
    type,
    is_error: isError,
    num_turns: turns,
  } = event as { type?: unknown; is_error?: unknown; num_turns?: unknown };
  if (type !== "result") return null;
  // No turn run at all (e.g. --resume of an unknown session): the CLI exits next, its stderr says why.
  return isError === true && turns === 0 ? "error" : "ok";
}
