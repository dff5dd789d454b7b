import { describe, expect, test } from "bun:test";
import { RunTokenStore } from "../src/run-tokens.ts";
import { FakeClock } from "./helpers/index.ts";

const store = (clock: FakeClock) =>
  new RunTokenStore(clock, 1000, { caller: (tenantId, runId) => ({ tenantId, runId }) });

describe("run tokens: renew (a warm agent's tokens follow its turns)", () => {
  test("renew rebinds the token to the new run and extends its life; the tenant never changes", () => {
    const clock = new FakeClock(0);
    const tokens = store(clock);
    const issued = tokens.issue("tenant-a", "run-1");
    expect(tokens.resolve(issued.token)).toEqual({ tenantId: "tenant-a", runId: "run-1" });
    clock.advance(900);
    issued.renew("run-2");
    expect(tokens.resolve(issued.token)).toEqual({ tenantId: "tenant-a", runId: "run-2" });
    clock.advance(900); // 1800 ms after issue, 900 ms after the renewal: still alive
    expect(tokens.resolve(issued.token)?.runId).toBe("run-2");
    clock.advance(100);
    expect(tokens.resolve(issued.token)).toBeNull();
  });

  test("a renewal brings back a token expired between turns, never a revoked one", () => {
    const clock = new FakeClock(0);
    const tokens = store(clock);
    const issued = tokens.issue("tenant-a", "run-1");
    clock.advance(5000);
    expect(tokens.resolve(issued.token)).toBeNull();
    issued.renew("run-2");
    expect(tokens.resolve(issued.token)?.runId).toBe("run-2");
    issued.revoke();
    issued.renew("run-3");
    expect(tokens.resolve(issued.token)).toBeNull();
    expect(tokens.size).toBe(0);
  });
});
