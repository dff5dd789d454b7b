import { describe, expect, test } from "bun:test";
import { createAgentForServer, WARM_BLOCKED_FIX, warmBlockingArg } from "../../src/agent/index.ts";
import { defaultWarmMax, loadConfig } from "../../src/config.ts";
import { checkWarmPool } from "../../src/ops/warm-check.ts";
import { createTestContext } from "../helpers/index.ts";

const GIB = 1024 ** 3;
const base = { ADMIN_API_KEY: "k".repeat(32), CREDENTIALS_KEY: Buffer.alloc(32, 7).toString("base64") };
const config = (env: Record<string, string>) => loadConfig({ ...base, ...env }, { generateSecrets: false });

describe("warm pool settings (doctor, AGENT_WARM_MAX default)", () => {
  test("AGENT_WARM_MAX defaults to one process per ~400 MB of memory, at least 1, at most 16", () => {
    expect(defaultWarmMax(0.3 * GIB)).toBe(1);
    expect(defaultWarmMax(2 * GIB)).toBe(5);
    expect(defaultWarmMax(64 * GIB)).toBe(16);
  });

  test("doctor explains the pool: on with its bound, idle time and concurrency", () => {
    const check = checkWarmPool(config({ AGENT_WARM_MAX: "4", AGENT_WARM_IDLE_MS: "60000" }), 8 * GIB);
    expect(check.status).toBe("ok");
    expect(check.detail).toContain("AGENT_WARM_MAX=4");
    expect(check.detail).toContain("AGENT_WARM_IDLE_MS=60000");
    expect(check.detail).toContain("AGENT_MAX_CONCURRENCY=4");
  });

  test("a bound beyond the machine's memory is a warning; off says every message starts cold", () => {
    expect(checkWarmPool(config({ AGENT_WARM_MAX: "16" }), 2 * GIB).status).toBe("warn");
    const off = checkWarmPool(config({ AGENT_WARM: "off" }), 2 * GIB);
    expect(off).toMatchObject({ status: "ok" });
    expect(off.detail).toContain("cold");
  });

  test("AGENT_ARGS that set the CLI's stream format turn warm agents off, and doctor says why", () => {
    expect(warmBlockingArg("--allowedTools Bash --output-format text")).toBe("--output-format");
    expect(warmBlockingArg("--input-format=text")).toBe("--input-format=text");
    expect(warmBlockingArg("--allowedTools Bash,Read --model sonnet")).toBeNull();
    const check = checkWarmPool(config({ AGENT_ARGS: "--allowedTools Bash --output-format text" }), 8 * GIB);
    expect(check).toMatchObject({ status: "warn", fix: WARM_BLOCKED_FIX });
    expect(check.detail).toContain("--output-format");
  });

  test("the server builds no warm pool then (a warning in the log), so every turn runs cold and works", async () => {
    const t = await createTestContext({ env: { AGENT_ARGS: "--output-format text", AGENT_SANDBOX: "none" } });
    try {
      const agent = createAgentForServer(t.ctx);
      expect(agent.warm).toBeNull();
      expect(t.logs.some((l) => l.msg === "warm agents off: AGENT_ARGS sets the CLI's stream format")).toBe(true);
    } finally {
      await t.cleanup();
    }
  });
});
