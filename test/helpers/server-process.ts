import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";
import { testEnv } from "./context.ts";
import { releaseTestDatabase, testDatabaseEnv } from "./test-database.ts";

/** The repository root (where package.json and src/ live). */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A process entry that runs `serve` exactly as shipped plus test-only routes under /test/
 * (slow requests, a JSON echo, a tenants read): see serve-fixture.ts.
 */
export const SERVE_FIXTURE = join(REPO_ROOT, "test/helpers/serve-fixture.ts");

/** One parsed JSON log line of the server's stdout. */
export type LogLine = Record<string, unknown> & { level?: string; msg?: string };

export interface SpawnServerOptions {
  /**
   * Environment for the process, merged over the defaults: PATH, HOME, PORT=0, HOST=127.0.0.1,
   * DATA_DIR=<dir>/data, TENANTS_DIR=<dir>/tenants, ADMIN_API_KEY=TEST_ADMIN_KEY,
   * CREDENTIALS_KEY=TEST_CREDENTIALS_KEY (and under TEST_DATABASE=libsql the DATABASE_URL of DATA_DIR's sqld,
   * unless DATABASE_URL is given). A key set to `undefined` removes that default (e.g.
   * `{ ADMIN_API_KEY: undefined }` to see the key generated on first start). Nothing else of the
   * test runner's own environment is passed on.
   */
  env?: Record<string, string | undefined>;
  /** The command line. Default: this repo's `bun src/main.ts serve` (with the running bun). */
  command?: string[];
  /** Working directory, and where DATA_DIR/TENANTS_DIR go. Default: a fresh temp dir, removed by cleanup(). */
  dir?: string;
  /** How long to wait for the "listening" log line and a /health answer. Default 20000 ms. */
  readyTimeoutMs?: number;
}

/** A server running as a real child process. */
export interface ServerProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** The working directory (temp dir unless `dir` was given). */
  dir: string;
  dataDir: string;
  tenantsDir: string;
  /** $DATA_DIR/proxystaff.db (meaningful unless DATABASE_URL was overridden). */
  dbPath: string;
  /** The database the process uses: its DATABASE_URL, or `file:<dbPath>` (see queryDatabase). */
  databaseUrl: string;
  /** The environment the process was started with. */
  env: Record<string, string>;
  /** ADMIN_API_KEY from env (undefined when the server generated its own). */
  adminKey: string | undefined;
  stdout(): string;
  stderr(): string;
  /** stdout's JSON lines, parsed (non-JSON lines skipped). */
  logs(): LogLine[];
  /** Resolves with the first log line (past or future) that matches; rejects after timeoutMs (default 10000). */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** fetch(url + path), adding `Authorization: Bearer <adminKey>` unless the request has one. */
  adminFetch(path: string, init?: RequestInit): Promise<Response>;
  /**
   * Sends the signal (default SIGTERM; only once, however often stop() is called) and resolves
   * with the exit code; SIGKILL after timeoutMs (default 15000). Don't also `proc.kill()` it
   * yourself: a second signal during shutdown ends the server at once.
   */
  stop(signal?: "SIGTERM" | "SIGINT", timeoutMs?: number): Promise<number>;
  /** Stops the process if it still runs and removes the temp dir (when the helper made it). */
  cleanup(): Promise<void>;
}

/**
 * Starts `bun src/main.ts serve` (or `command`) as a real process with its own temp
 * DATA_DIR/TENANTS_DIR on 127.0.0.1 and a port of its own choosing (PORT=0; the port is read from
 * the "listening" log line, so don't set LOG_LEVEL above info), waits until /health answers, and
 * hands back the process with its captured output.
 *
 *   const s = await spawnServer({ env: { TELEGRAM_BOT_TOKEN: "123:abc" } });
 *   try {
 *     const res = await fetch(`${s.url}/health`);
 *     expect(s.logs().some((l) => l.msg === "request")).toBe(true);
 *     expect(await s.stop()).toBe(0);
 *   } finally {
 *     await s.cleanup();
 *   }
 */
export async function spawnServer(options: SpawnServerOptions = {}): Promise<ServerProcess> {
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "proxystaff-proc-"));
  // Tenant uids (agent runs, tool checks) pass through it to TENANTS_DIR and the CLI directories (mkdtemp: 0700).
  chmodSync(dir, 0o711);
  const overrides = options.env ?? {};
  const dataDirOf = (e: Record<string, string | undefined>) => resolve(dir, e.DATA_DIR ?? "data");
  const database =
    "DATABASE_URL" in overrides ? {} : await testDatabaseEnv(dataDirOf({ ...testEnv(dir), ...overrides }));
  const env = buildEnv(dir, { ...database, ...overrides });
  const dataDir = dataDirOf(env);
  const tenantsDir = resolve(dir, env.TENANTS_DIR ?? "tenants");
  const command = options.command ?? [process.execPath, join(REPO_ROOT, "src/main.ts"), "serve"];
  const proc = Bun.spawn(command, { cwd: dir, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });

  const out = { stdout: "", stderr: "" };
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      out[key] += decoder.decode(chunk, { stream: true });
      for (const wake of waiters) wake();
    }
  };
  const pumped = Promise.all([pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr")]);
  void proc.exited.then(() => pumped).then(() => waiters.forEach((wake) => wake()));

  const logs = (): LogLine[] => out.stdout.split("\n").flatMap((line) => parseLogLine(line));
  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 10_000) =>
    new Promise<LogLine>((resolvePromise, reject) => {
      const check = () => {
        const found = logs().find(match);
        if (found) {
          done();
          resolvePromise(found);
        } else if (proc.exitCode !== null || proc.signalCode !== null) {
          done();
          reject(
            new Error(`server exited (${proc.exitCode ?? proc.signalCode}) before the awaited log line\n${describe()}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a log line\n${describe()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const describe = () => `--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`;

  // One signal only: a second SIGTERM/SIGINT during a graceful shutdown ends the server at once (exit 143/130).
  let signalled = false;
  const stop = async (signal: "SIGTERM" | "SIGINT" = "SIGTERM", timeoutMs = 15_000) => {
    if (!signalled && proc.exitCode === null && proc.signalCode === null) {
      signalled = true;
      proc.kill(signal);
    }
    const killer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    const code = await proc.exited;
    clearTimeout(killer);
    await pumped;
    return code;
  };

  let ready: { port: number } | undefined;
  try {
    const listening = await waitForLog((l) => l.msg === "listening", options.readyTimeoutMs ?? 20_000);
    ready = { port: Number(listening.port) };
    await waitForHealth(`http://127.0.0.1:${ready.port}`, options.readyTimeoutMs ?? 20_000);
  } catch (err) {
    await stop("SIGTERM", 2000);
    if (ownsDir) {
      await releaseTestDatabase(dataDir);
      rmSync(dir, { recursive: true, force: true });
    }
    throw err;
  }
  const url = `http://127.0.0.1:${ready.port}`;
  const adminKey = env.ADMIN_API_KEY;
  return {
    proc,
    url,
    port: ready.port,
    dir,
    dataDir,
    tenantsDir,
    dbPath: join(dataDir, "proxystaff.db"),
    databaseUrl: env.DATABASE_URL ?? `file:${join(dataDir, "proxystaff.db")}`,
    env,
    adminKey,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    logs,
    waitForLog,
    adminFetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization") && adminKey) headers.set("authorization", `Bearer ${adminKey}`);
      return fetch(`${url}${path}`, { ...init, headers });
    },
    stop,
    async cleanup() {
      await stop("SIGTERM", 5000);
      if (ownsDir) {
        await releaseTestDatabase(dataDir);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1 (for a test that must pass an explicit PORT, e.g. because
 * PUBLIC_URL must be known before start; spawnServer itself uses PORT=0 and reads the real port from the log).
 */
export async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port;
  await probe.stop(true);
  if (port === undefined) throw new Error("could not find a free port");
  return port;
}

function buildEnv(dir: string, overrides: Record<string, string | undefined>): Record<string, string> {
  const merged: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: dir,
    ...testEnv(dir),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
}

function parseLogLine(line: string): LogLine[] {
  if (!line.startsWith("{")) return [];
  try {
    return [JSON.parse(line) as LogLine];
  } catch {
    return []; // a partial line still being written; it is parsed once complete
  }
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(`${url}/health`); // any answer (200 or 503) means the server is serving
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`no answer from ${url}/health`, { cause: err });
      await Bun.sleep(50);
    }
  }
}
