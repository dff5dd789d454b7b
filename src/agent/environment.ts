import { randomUUID } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { AGENT_AUTH_VARIABLES, platformSecrets } from "../config.ts";
import { tenantConfigDirPath } from "../tenants/index.ts";

/** Names of the platform's own secrets: never in an agent's environment, whoever tries to set them. */
export const PLATFORM_SECRET_VARIABLES = [
  "ADMIN_API_KEY",
  "CREDENTIALS_KEY",
  "CREDENTIALS_KEY_PREVIOUS",
  "TELEGRAM_BOT_TOKEN",
  "TELEGRAM_WEBHOOK_SECRET",
  "TWILIO_AUTH_TOKEN",
  "DATABASE_AUTH_TOKEN",
  "DATABASE_URL",
  "GOOGLE_CLIENT_SECRET",
] as const;

/** Variables the runner sets itself; a tenant's .env or vault cannot override them. */
const RUNNER_VARIABLES = new Set<string>([
  "PATH",
  "HOME",
  "TZ",
  "USER",
  "LOGNAME",
  "CLAUDE_CONFIG_DIR",
  "IS_SANDBOX",
  ...AGENT_AUTH_VARIABLES,
]);

const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

export interface AgentEnvInput {
  config: Config;
  /** The server's own environment; only PATH and LANG are read from it. */
  hostEnv: Record<string, string | undefined>;
  /** HOME and CLAUDE_CONFIG_DIR of this tenant's runs. */
  tenantConfigDir: string;
  timezone: string;
  tenantEnv: Record<string, string>;
}

/** The environment of one run plus the names that were dropped (for a warning log; never the values). */
export interface AgentEnv {
  env: Record<string, string>;
  dropped: string[];
}

/**
 * Builds a run's environment from an allow-list: PATH, HOME, LANG, TZ, USER, the platform's CLI login
 * (`config.agentAuthEnv`), CLAUDE_CONFIG_DIR, then the tenant's own variables. Platform secrets are removed by
 * name and by value, so a tenant .env naming ADMIN_API_KEY (or copying its value) gets nothing through.
 */
export function buildAgentEnv(input: AgentEnvInput): AgentEnv {
  const { config, hostEnv, tenantConfigDir, timezone } = input;
  const env: Record<string, string> = {
    PATH: hostEnv.PATH || DEFAULT_PATH,
    HOME: tenantConfigDir,
    LANG: hostEnv.LANG || "C.UTF-8",
    TZ: timezone,
    USER: "agent",
    LOGNAME: "agent",
    ...config.agentAuthEnv,
    CLAUDE_CONFIG_DIR: tenantConfigDir,
  };
  const secretNames = new Set<string>(PLATFORM_SECRET_VARIABLES);
  const secretValues = new Set(platformSecrets(config));
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(input.tenantEnv)) {
    if (
      !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ||
      secretNames.has(name) ||
      RUNNER_VARIABLES.has(name) ||
      secretValues.has(value)
    ) {
      dropped.push(name);
      continue;
    }
    env[name] = value;
  }
  for (const [name, value] of Object.entries(env)) {
    if (secretValues.has(value)) {
      delete env[name];
      dropped.push(name);
    }
  }
  return { env, dropped };
}

/** Values that must never appear in a run's error text or logs: the tenant's own credentials and the platform's secrets. */
export function secretValuesOf(config: Config, tenantEnv: Record<string, string>): string[] {
  return [
    ...platformSecrets(config),
    ...Object.values(tenantEnv),
    ...Object.values(config.agentAuthEnv).filter((v) => !v.startsWith("http")),
  ].filter((v) => v.length >= 6);
}

/** The file a `claude /login` (Pro/Max plan) leaves in the CLI's config directory. */
export const CREDENTIALS_FILE = ".credentials.json";

/** A tenant's own CLI directory and the platform login that reaches it. */
export interface TenantConfigDir {
  /** `<CLAUDE_CONFIG_DIR>/tenants/<tenantId>`: HOME and CLAUDE_CONFIG_DIR of the tenant's runs (sessions live here). */
  dir: string;
  /** The platform's `.credentials.json` when there is one (the sandbox binds it read-only over the tenant's copy). */
  platformCredentials: string | null;
}

/**
 * Creates the tenant's CLI directory under the platform's CLAUDE_CONFIG_DIR (on the volume, so `--resume`
 * survives a redeploy) and gives it the platform's CLI login: the `.credentials.json` is copied in before each
 * run (a refreshed login reaches every tenant; a run that changes its copy changes nothing else). Without a
 * login file, a stale copy is removed.
 */
export function prepareTenantConfigDir(platformConfigDir: string, tenantId: string): TenantConfigDir {
  const dir = tenantConfigDirPath(platformConfigDir, tenantId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const source = join(platformConfigDir, CREDENTIALS_FILE);
  const target = join(dir, CREDENTIALS_FILE);
  if (!existsSync(source)) {
    rmSync(target, { force: true });
    return { dir, platformCredentials: null };
  }
  // Anything but an identical regular file (a run may have replaced its copy, even by a symlink) is replaced.
  if (!isRegularFile(target) || !readFileSync(target).equals(readFileSync(source))) {
    rmSync(target, { force: true });
    copyFileSync(source, target);
    chmodSync(target, 0o600);
  }
  return { dir, platformCredentials: source };
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

/** One run's `--mcp-config` file: where it is, and how to remove it when the run ends. */
export interface McpConfigFile {
  path: string;
  dispose(): void;
}

/**
 * Writes the MCP config (with the run's Bearer token) to a fresh file in the tenant's CLI directory, so the token
 * never appears in argv (which every local user can read in `ps`). The file is 0600, created exclusively without
 * following links, and owned like the directory, so a run under a per-tenant uid can read it and nobody else can.
 */
export function writeMcpConfigFile(tenantConfigDir: string, json: string): McpConfigFile {
  const path = join(tenantConfigDir, `mcp-${randomUUID()}.json`);
  const owner = statSync(tenantConfigDir);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    if (owner.uid !== process.getuid?.() || owner.gid !== process.getgid?.()) fchownSync(fd, owner.uid, owner.gid);
    writeSync(fd, json);
  } catch (error) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw error;
  }
  closeSync(fd);
  return { path, dispose: () => rmSync(path, { force: true }) };
}
