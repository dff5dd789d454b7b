/** What a finished child process printed and returned. */
export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` to its end in `cwd` with exactly `env` as its environment (nothing inherited), stdin /dev/null unless
 * `stdin` text is given, and collects stdout, stderr and the exit code.
 */
export async function runProcess(
  argv: string[],
  options: { cwd: string; env: Record<string, string>; stdin?: string },
): Promise<ProcessResult> {
  const proc = Bun.spawn(argv, {
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}
