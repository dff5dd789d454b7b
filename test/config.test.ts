import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../src/config.ts";

const KEY = Buffer.alloc(32, 7).toString("base64");

describe("loadConfig", () => {
  test("defaults", () => {
    const c = loadConfig({ ADMIN_API_KEY: "a".repeat(20), CREDENTIALS_KEY: KEY }, { generateSecrets: false });
    expect(c.PORT).toBe(3000);
    expect(c.DATABASE_URL).toEndWith("/data/proxystaff.db");
    expect(c.TELEGRAM_MODE).toBe("off");
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("lists every bad variable at once", () => {
    try {
      loadConfig({ PORT: "abc", CREDENTIALS_KEY: "short", DATABASE_URL: "ftp://x" }, { generateSecrets: false });
      throw new Error("expected a ConfigError");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join("\n");
      expect(problems).toContain("PORT");
      expect(problems).toContain("CREDENTIALS_KEY");
      expect(problems).toContain("DATABASE_URL");
    }
  });
});
