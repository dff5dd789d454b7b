import { AGENT_AUTH_VARIABLES, platformSecrets } from "../config.ts";
import type { Config } from "../config.ts";

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
const RUNNER_VARIABLES = new Set<string>(["PATH", "HOME", "TZ", "USER", "LOGNAME", "CLAUDE_CONFIG_DIR", "IS_SANDBOX", ...AGENT_AUTH_VARIABLES]);

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
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || secretNames.has(name) || RUNNER_VARIABLES.has(name) || secretValues.has(value)) {
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
  return [...platformSecrets(config), ...Object.values(tenantEnv), ...Object.values(config.agentAuthEnv).filter((v) => !v.startsWith("http"))]
    .filter((v) => v.length >= 6);
}
