import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { errorMessage } from "../errors.ts";

/**
 * Where the agent CLI's model login comes from, as far as can be told without running the CLI:
 * - `api_key` / `oauth_token`: ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN in the platform env (with
 *   both, the CLI uses the API key: `isBothSet`);
 * - `credentials_file`: a plan login in `$CLAUDE_CONFIG_DIR/.credentials.json`;
 * - `credentials_file_unrecognised`: that file is JSON of another shape (a newer CLI format?) — may work;
 * - `credentials_file_unreadable`: the file is there but is not JSON — runs will fail;
 * - `missing`: none of them — every agent run fails with "Not logged in".
 */
export type AgentLoginState =
  | { kind: "api_key"; isBothSet: boolean }
  | { kind: "oauth_token" }
  | { kind: "credentials_file"; file: string }
  | { kind: "credentials_file_unrecognised"; file: string }
  | { kind: "credentials_file_unreadable"; file: string; reason: string }
  | { kind: "missing"; file: string };

/** Finds the platform's model login (env first, as the CLI does, then the login file). Reads one small file; never throws. */
export function findAgentLogin(config: Pick<Config, "agentAuthEnv" | "CLAUDE_CONFIG_DIR">): AgentLoginState {
  const auth = config.agentAuthEnv;
  if (auth.ANTHROPIC_API_KEY) return { kind: "api_key", isBothSet: Boolean(auth.CLAUDE_CODE_OAUTH_TOKEN) };
  if (auth.CLAUDE_CODE_OAUTH_TOKEN) return { kind: "oauth_token" };
  const file = join(config.CLAUDE_CONFIG_DIR, ".credentials.json");
  if (!existsSync(file)) return { kind: "missing", file };
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as { claudeAiOauth?: { accessToken?: unknown } } | null;
    return typeof parsed?.claudeAiOauth?.accessToken === "string"
      ? { kind: "credentials_file", file }
      : { kind: "credentials_file_unrecognised", file };
  } catch (error) {
    return { kind: "credentials_file_unreadable", file, reason: errorMessage(error) };
  }
}

/** True when agent runs cannot log in at all (no login, or a login file that is not JSON). */
export function isAgentLoginMissing(state: AgentLoginState): boolean {
  return state.kind === "missing" || state.kind === "credentials_file_unreadable";
}

/** A plan login that lives only in `.credentials.json` (no ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN). */
export function isPlanLoginFile(state: AgentLoginState): boolean {
  return state.kind === "credentials_file" || state.kind === "credentials_file_unrecognised";
}

/**
 * Why a `.credentials.json` plan login does not work with the gateway on: its access token expires within hours
 * and is renewed by the CLI that owns the file (rotating the refresh token); a second refresher (the gateway) would
 * race the operator's CLI and could log both out. So the gateway only uses a long-lived token from the environment.
 */
export const PLAN_LOGIN_WITH_GATEWAY = (file: string) =>
  `the plan login in ${file} is not used with MODEL_GATEWAY=on (it stays outside every sandbox, and its short-lived token is refreshed only by the CLI that owns it): run \`claude setup-token\` and set CLAUDE_CODE_OAUTH_TOKEN to what it prints; agent runs will fail until then`;

/**
 * The one-line warning for a missing login (null when there is a login): said at `serve` start and
 * by `proxystaff chat`, which refuses to start without one.
 */
export function agentLoginProblem(
  state: AgentLoginState,
  config: Pick<Config, "CLAUDE_CONFIG_DIR" | "MODEL_GATEWAY">,
): string | null {
  const file = join(config.CLAUDE_CONFIG_DIR, ".credentials.json");
  if (config.MODEL_GATEWAY === "on" && isPlanLoginFile(state)) return PLAN_LOGIN_WITH_GATEWAY(file);
  if (state.kind === "missing") {
    // With the gateway on, a plan login file is not used (PLAN_LOGIN_WITH_GATEWAY): do not suggest one.
    const planLogin =
      config.MODEL_GATEWAY === "on" ? " (`claude setup-token` prints one)" : `, or put a plan login in ${file}`;
    return `no model login: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN${planLogin}; agent runs will fail`;
  }
  if (state.kind === "credentials_file_unreadable") {
    return `no usable model login: ${file} cannot be read as JSON (${state.reason}); set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN, or log in again; agent runs will fail`;
  }
  return null;
}
