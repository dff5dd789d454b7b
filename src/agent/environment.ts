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
  /** The model gateway as this run reaches it (MODEL_GATEWAY=on): its URL and the run's token. */
  model?: ModelAccess;
}

/** How one run reaches the model through the gateway: `ANTHROPIC_BASE_URL` and the run's token as `ANTHROPIC_API_KEY`. */
export interface ModelAccess {
  url: string;
  token: string;
}

/** The platform's login and where it points: never in a run's environment when the gateway is on. */
const MODEL_LOGIN_VARIABLES = new Set(["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL"]);

/**
 * The platform variables a run gets: with MODEL_GATEWAY=on the CLI settings only (no login) plus the gateway's URL
 * and the run's own token (none without `model`: such a run cannot reach the model at all); off: the platform's
 * login itself, as before the gateway.
 */
function platformAgentEnv(config: Config, model: ModelAccess | undefined): Record<string, string> {
  if (config.MODEL_GATEWAY === "off") return { ...config.agentAuthEnv };
  const env = Object.fromEntries(
    Object.entries(config.agentAuthEnv).filter(([name]) => !MODEL_LOGIN_VARIABLES.has(name)),
  );
  return model ? { ...env, ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: model.token } : env;
}

/** The environment of one run plus the names that were dropped (for a warning log; never the values). */
export interface AgentEnv {
  env: Record<string, string>;
  dropped: string[];
}

/**
 * Builds a run's environment from an allow-list: PATH, HOME, LANG, TZ, USER, the model access (the gateway's URL
 * and the run's token; with MODEL_GATEWAY=off the platform's login, `config.agentAuthEnv`), CLAUDE_CONFIG_DIR, then
 * the tenant's own variables. Platform secrets are removed by
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
    ...platformAgentEnv(config, input.model),
    CLAUDE_CONFIG_DIR: tenantConfigDir,
  };
  const secretNames = new Set<string>(PLATFORM_SECRET_VARIABLES);
  const secretValues = new Set(platformSecrets(config));
  // With the gateway on, the platform's model login is a secret like the others (a tenant .env copying it gets nothing).
  if (config.MODEL_GATEWAY === "on") {
    for (const name of ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"]) {
      const value = config.agentAuthEnv[name];
      if (value) secretValues.add(value);
    }
  }
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
  /** True when the login was (re)copied in just now: a new file of the server's, not yet the tenant uid's. */
  credentialsCopied: boolean;
}

/**
 * Creates the tenant's CLI directory under the platform's CLAUDE_CONFIG_DIR (on the volume, so `--resume`
 * survives a redeploy). With `shareLogin` (MODEL_GATEWAY=off) it gets the platform's CLI login: the
 * `.credentials.json` is copied in before each run (a refreshed login reaches every tenant; a run that changes its
 * copy changes nothing else). Without a login file, or with the gateway on, a stale copy is removed.
 */
export function prepareTenantConfigDir(
  platformConfigDir: string,
  tenantId: string,
  shareLogin = true,
): TenantConfigDir {
  const dir = tenantConfigDirPath(platformConfigDir, tenantId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const source = join(platformConfigDir, CREDENTIALS_FILE);
  const target = join(dir, CREDENTIALS_FILE);
  if (!shareLogin || !existsSync(source)) {
    rmSync(target, { force: true });
    return { dir, platformCredentials: null, credentialsCopied: false };
  }
  // Anything but an identical regular file (a run may have replaced its copy, even by a symlink) is replaced.
  let credentialsCopied = false;
  if (!isRegularFile(target) || !readFileSync(target).equals(readFileSync(source))) {
    rmSync(target, { force: true });
    copyFileSync(source, target);
    chmodSync(target, 0o600);
    credentialsCopied = true;
  }
  return { dir, platformCredentials: source, credentialsCopied };
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
