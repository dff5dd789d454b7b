/** What the runner asks for: one process, its own process group, output captured. */
export interface SpawnSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Written to stdin and closed; absent = stdin is /dev/null (an open pipe costs the CLI a 3 s wait). */
  stdin?: string;
  /** Keep stdin open as a pipe (a warm process reads one turn per line); `stdin` is then ignored. */
  interactive?: boolean;
}

/** The open stdin of an interactive process. */
export interface ProcessInput {
  /** Writes and flushes at once (a turn must not wait in a buffer). Throws when the process is gone. */
  write(text: string): void;
  end(): void;
}

/** A started process, as the runner needs it. */
export interface SpawnedProcess {
  pid: number;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** The open stdin (SpawnSpec.interactive); absent or null otherwise. */
  input?: ProcessInput | null;
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
    stdin: spec.interactive ? "pipe" : spec.stdin === undefined ? "ignore" : new Blob([spec.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const exited = child.exited.then(() => ({
    exitCode: child.exitCode,
    signal: child.signalCode === null ? null : String(child.signalCode),
  }));
  const sink = child.stdin;
  const input: ProcessInput | null =
    spec.interactive && sink && typeof sink !== "number"
      ? {
          write(text) {
            sink.write(text);
            void sink.flush();
          },
          end() {
            try {
              void sink.end();
            } catch {
              // Already closed (the process is gone): nothing to end.
            }
          },
        }
      : null;
  return {
    pid: child.pid,
    input,
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
