import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { checkModelGateway } from "../../src/ops/validation.ts";
import { TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY } from "../helpers/context.ts";

const config = (gateway?: string) =>
  loadConfig(
    {
      DATA_DIR: "/nonexistent-gateway-check",
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
      ...(gateway ? { MODEL_GATEWAY: gateway } : {}),
    },
    { generateSecrets: false },
  );

describe("validate-tenant's model gateway line", () => {
  test("on by default: ok; off: a warning with the fix; off also warns at start", () => {
    expect(config().MODEL_GATEWAY).toBe("on");
    expect(checkModelGateway(config())).toMatchObject({ name: "model gateway", status: "ok" });
    const off = config("off");
    expect(checkModelGateway(off)).toMatchObject({ status: "warn", fix: "Set MODEL_GATEWAY=on (docs/security.md)." });
    expect(off.notices.some((n) => n.level === "warn" && n.msg.startsWith("MODEL_GATEWAY=off"))).toBe(true);
    expect(() => config("maybe")).toThrow("MODEL_GATEWAY");
  });

  test("the upstream is the server's ANTHROPIC_BASE_URL, default Anthropic's", () => {
    expect(config().modelUpstreamUrl).toBe("https://api.anthropic.com");
  });
});
