// A ProxyStaff server as a real process for benchmarks and fault tests: stdout to a file (as under a
// supervisor), a known port, the Telegram sink as its Bot API, the stand-in as its agent.

import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import {
  freePort,
  queryDatabase,
  REPO_ROOT,
  TEST_ADMIN_KEY,
  TEST_CREDENTIALS_KEY,
  testDatabaseEnv,
  testEnv,
} from "../test/helpers/index.ts";

export const BENCH_WEBHOOK_SECRET = "bench-webhook-secret-0123456789";
export const ADMIN_KEY = TEST_ADMIN_KEY;
export const CREDENTIALS_KEY = TEST_CREDENTIALS_KEY;

export interface BenchServerOptions {
  /** Working directory: data/, tenants/ and server.log go here (kept across restarts). */
  dir: string;
  /** Extra environment (over the defaults: webhook mode, sink, rate limit off, no sandbox). */
  env?: Record<string, string>;
  /** Command line; default `bun src/main.ts serve`. */
  command?: string[];
  /** Port; default a free one. */
  port?: number;
  /** Where to wait for /health 200 at most. Default 30 000 ms. */
  readyTimeoutMs?: number;
}

export interface BenchServer {
  proc: Subprocess;
  pid: number;
  url: string;
  port: number;
  dir: string;
  dbPath: string;
  /** The database it serves from: its DATABASE_URL, or `file:<dbPath>` (pass it to queryDb). */
  databaseUrl: string;
  tenantsDir: string;
  /** ms from spawn to the first /health answer with status 200. */
  startMs: number;
  env: Record<string, string>;
  /** SIGTERM and wait (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/** The environment every bench/fault server gets (before `extra`). */
export function baseEnv(
  dir: string,
  port: number,
  sinkUrl: string,
  sinkToken: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: dir,
    // 127.0.0.1, DATA_DIR and TENANTS_DIR under dir, the test admin and credentials keys: the tests' environment.
    ...testEnv(dir),
    PORT: String(port),
    TELEGRAM_BOT_TOKEN: sinkToken,
    TELEGRAM_API_ROOT: sinkUrl,
    TELEGRAM_MODE: "webhook",
    TELEGRAM_WEBHOOK_SECRET: BENCH_WEBHOOK_SECRET,
    AGENT_SANDBOX: "none",
    // The stand-in agent speaks the one-shot protocol (prompt on stdin, one JSON result): cold runs unless a
    // benchmark asks for warm ones (bench/warm.ts).
    AGENT_WARM: "off",
    RATE_LIMIT_PER_MINUTE: "1000000",
    LOG_LEVEL: "info",
    ...extra,
  };
}

/** Starts the server and waits for /health 200. */
export async function startBenchServer(
  options: BenchServerOptions & { env: Record<string, string> },
): Promise<BenchServer> {
  const port = options.port ?? (await freePort());
  // TEST_DATABASE=libsql (fault tests): DATA_DIR's sqld unless the caller chose a DATABASE_URL.
  const dataDir = options.env.DATA_DIR ?? join(options.dir, "data");
  const database = options.env.DATABASE_URL ? {} : await testDatabaseEnv(dataDir);
  const env: Record<string, string> = { ...database, ...options.env, PORT: String(port) };
  mkdirSync(options.dir, { recursive: true });
  // BENCH_CPU_PROF_DIR=<dir>: the server writes a CPU profile there when it exits (for the findings).
  const profile = process.env.BENCH_CPU_PROF_DIR
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`]
    : [];
  const command = options.command ?? [process.execPath, ...profile, join(REPO_ROOT, "src/main.ts"), "serve"];
  const logFd = openSync(join(options.dir, "server.log"), "a");
  const started = performance.now();
  const proc = Bun.spawn(command, { cwd: options.dir, env, stdin: "ignore", stdout: logFd, stderr: logFd });
  closeSync(logFd);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  let startMs = Number.NaN;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(
        `server exited (${proc.exitCode ?? proc.signalCode}) before /health; see ${join(options.dir, "server.log")}`,
      );
    const res = await fetch(`${url}/health`).catch(() => null);
    if (res) {
      await res.arrayBuffer();
      if (res.status === 200) {
        startMs = performance.now() - started;
        break;
      }
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`no /health 200 from ${url}; see ${join(options.dir, "server.log")}`);
    }
    await Bun.sleep(2);
  }
  const wait = async (signal: "SIGTERM" | "SIGKILL") => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await proc.exited;
    clearTimeout(timer);
  };
  return {
    proc,
    pid: proc.pid,
    url,
    port,
    dir: options.dir,
    dbPath: join(dataDir, "proxystaff.db"),
    databaseUrl: env.DATABASE_URL ?? `file:${join(dataDir, "proxystaff.db")}`,
    tenantsDir: env.TENANTS_DIR ?? join(options.dir, "tenants"),
    startMs,
    env,
    stop: () => wait("SIGTERM"),
    kill: () => wait("SIGKILL"),
  };
}

/** A tenant linked to a Telegram chat. */
export interface LinkedTenant {
  id: string;
  chatId: number;
}

/** Creates `count` tenants through the admin API and links each to a chat (the runbook's SQL). */
export async function createLinkedTenants(
  server: Pick<BenchServer, "url" | "databaseUrl">,
  count: number,
  firstChatId = 7_000_000,
): Promise<LinkedTenant[]> {
  const tenants: LinkedTenant[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${server.url}/admin/tenants`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        name: `Bench business ${i}`,
        phone: `+1801${String(5_000_000 + (firstChatId % 1000) * 1000 + i).padStart(7, "0")}`,
        channel: "telegram",
        timezone: "UTC",
      }),
    });
    if (res.status !== 201) throw new Error(`create tenant: ${res.status} ${await res.text()}`);
    tenants.push({ id: ((await res.json()) as { id: string }).id, chatId: firstChatId + i });
  }
  for (const t of tenants)
    await queryDatabase(
      server.databaseUrl,
      "UPDATE tenants SET telegram_chat_id = ?, onboarding_status = 'LIVE' WHERE id = ?",
      String(t.chatId),
      t.id,
    );
  return tenants;
}

/** A Telegram text update as the Bot API delivers it to a webhook. */
export function textUpdateBody(updateId: number, chatId: number, text: string): string {
  return JSON.stringify({
    update_id: updateId,
    message: {
      message_id: updateId,
      date: Math.floor(Date.now() / 1000),
      chat: { id: chatId, type: "private", first_name: "Ada" },
      from: { id: chatId, is_bot: false, first_name: "Ada" },
      text,
    },
  });
}

/** POSTs an update to /webhooks/telegram with the secret. */
export function postUpdate(baseUrl: string, body: string, secret = BENCH_WEBHOOK_SECRET): Promise<Response> {
  return fetch(`${baseUrl}/webhooks/telegram`, {
    method: "POST",
    headers: { "content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret },
    body,
  });
}

/** Runs a query against the server's database (`databaseUrl`: the file, or a remote libSQL server). */
export function queryDb<T>(databaseUrl: string, sql: string, ...params: (string | number)[]): Promise<T[]> {
  return queryDatabase<T>(databaseUrl, sql, ...params);
}

/** Polls until check() is truthy or the limit passes (then throws with `what`). */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 60_000,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}
