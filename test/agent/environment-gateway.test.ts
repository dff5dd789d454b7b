// buildAgentEnv and prepareTenantConfigDir with MODEL_GATEWAY=on: no platform login in a run, by construction.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildAgentEnv, prepareTenantConfigDir } from "../../src/agent/environment.ts";
import { loadConfig } from "../../src/config.ts";
import { TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY } from "../helpers/context.ts";

const KEY = "sk-ant-api03-platform-key-env-test";
const OAUTH = "sk-ant-oat01-platform-oauth-env-test";

const config = (gateway: "on" | "off") =>
  loadConfig(
    {
      DATA_DIR: "/nonexistent-env-test",
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
      ANTHROPIC_API_KEY: KEY,
      CLAUDE_CODE_OAUTH_TOKEN: OAUTH,
      ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
      ANTHROPIC_MODEL: "claude-sonnet-4-5",
      MODEL_GATEWAY: gateway,
    },
    { generateSecrets: false },
  );

const build = (gateway: "on" | "off", model?: { url: string; token: string }, tenantEnv: Record<string, string> = {}) =>
  buildAgentEnv({
    config: config(gateway),
    hostEnv: { PATH: "/usr/bin" },
    tenantConfigDir: "/x",
    timezone: "UTC",
    tenantEnv,
    ...(model ? { model } : {}),
  });

describe("a run's environment with the model gateway", () => {
  test("on: the gateway's URL and the run's token, the CLI settings, never the platform's key or OAuth token", () => {
    const { env } = build("on", { url: "http://127.0.0.1:3000/model", token: "psm-run" });
    expect(env.ANTHROPIC_BASE_URL).toBe("http://127.0.0.1:3000/model");
    expect(env.ANTHROPIC_API_KEY).toBe("psm-run");
    expect(env.ANTHROPIC_MODEL).toBe("claude-sonnet-4-5");
    expect(env.CLAUDE_CODE_OAUTH_TOKEN).toBeUndefined();
    expect(JSON.stringify(env)).not.toContain(KEY);
    expect(JSON.stringify(env)).not.toContain(OAUTH);
  });

  test("on without a token: no model login at all (fails closed); a tenant .env copying the key gets nothing", () => {
    const { env, dropped } = build("on", undefined, { MY_KEY: KEY, ANTHROPIC_API_KEY: "mine", OK: "fine" });
    expect(env.ANTHROPIC_API_KEY).toBeUndefined();
    expect(env.ANTHROPIC_BASE_URL).toBeUndefined();
    expect(env.OK).toBe("fine");
    expect(dropped.sort()).toEqual(["ANTHROPIC_API_KEY", "MY_KEY"]);
    expect(JSON.stringify(env)).not.toContain(KEY);
  });

  test("off: the platform's login as before (a token given is ignored)", () => {
    const { env } = build("off", { url: "http://127.0.0.1:3000/model", token: "psm-run" });
    expect(env.ANTHROPIC_API_KEY).toBe(KEY);
    expect(env.CLAUDE_CODE_OAUTH_TOKEN).toBe(OAUTH);
    expect(env.ANTHROPIC_BASE_URL).toBe("http://127.0.0.1:9");
  });

  test("the plan login file reaches a tenant's CLI dir only with the gateway off; on removes a stale copy", () => {
    const root = mkdtempSync(join(tmpdir(), "ps-env-gw-"));
    try {
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, ".credentials.json"), '{"claudeAiOauth":{"accessToken":"x"}}');
      const off = prepareTenantConfigDir(root, "tenant-a", true);
      expect(existsSync(join(off.dir, ".credentials.json"))).toBe(true);
      const on = prepareTenantConfigDir(root, "tenant-a", false);
      expect(on.platformCredentials).toBeNull();
      expect(existsSync(join(on.dir, ".credentials.json"))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
