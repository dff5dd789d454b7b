import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import type { AppContext } from "../../src/context.ts";
import { silentLogger } from "../../src/log.ts";
import { createContext } from "../../src/runtime.ts";
import type { ProcessResult } from "../helpers/index.ts";
import { REPO_ROOT, runProcess, TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY } from "../helpers/index.ts";

/** What a script run printed and returned. */
export type ScriptResult = ProcessResult;

/** A temp DATA_DIR/TENANTS_DIR and the environment every runbook script of a test runs with. */
export interface RunbookEnv {
  dir: string;
  dataDir: string;
  tenantsDir: string;
  dbPath: string;
  env: Record<string, string>;
  /** `bun scripts/<name>.ts …args`, as the runbook shows, with this environment; stdin is /dev/null unless given. */
  run(name: string, args: string[], options?: { env?: Record<string, string>; stdin?: string }): Promise<ScriptResult>;
  /** An in-process context on the same database (for seeding and checking); close it with ctx.database.close(). */
  context(env?: Record<string, string>): Promise<AppContext>;
  cleanup(): void;
}

export function runbookEnv(extraEnv: Record<string, string> = {}): RunbookEnv {
  const dir = mkdtempSync(join(tmpdir(), "proxystaff-runbook-"));
  chmodSync(dir, 0o711); // tool checks run as tenant uids, which pass through it to TENANTS_DIR
  const dataDir = join(dir, "data");
  const tenantsDir = join(dir, "tenants");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    DATA_DIR: dataDir,
    TENANTS_DIR: tenantsDir,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
    ...extraEnv,
  };
  return {
    dir,
    dataDir,
    tenantsDir,
    dbPath: join(dataDir, "proxystaff.db"),
    env,
    run: (name, args, options = {}) =>
      runProcess([process.execPath, `scripts/${name}.ts`, ...args], {
        cwd: REPO_ROOT,
        env: { ...env, ...options.env },
        stdin: options.stdin,
      }),
    async context(overrides = {}) {
      return createContext(loadConfig({ ...env, ...overrides }, { generateSecrets: false }), { log: silentLogger });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The tenant id printed as "Tenant id: <uuid>". */
export function printedTenantId(stdout: string): string {
  const match = /Tenant id: ([0-9a-f-]{36})/.exec(stdout) ?? /Created tenant ([0-9a-f-]{36})/.exec(stdout);
  if (!match?.[1]) throw new Error(`no tenant id in output:\n${stdout}`);
  return match[1];
}
