import { describe, expect, test } from "bun:test";
import { defaultWarmMax, loadConfig } from "../../src/config.ts";
import { checkWarmPool } from "../../src/ops/warm-check.ts";

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
});
