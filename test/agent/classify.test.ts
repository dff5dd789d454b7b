import { describe, expect, test } from "bun:test";
import { classifyOutcome } from "../../src/agent/classify.ts";
import { splitShellArgs } from "../../src/agent/command.ts";

const outcome = (over: Partial<Parameters<typeof classifyOutcome>[0]>) => ({
  exitCode: 0,
  signal: null,
  stdout: "",
  stderr: "",
  timedOut: false,
  durationMs: 5,
  memoryLimited: false,
  timeoutMs: 1000,
  ...over,
});
const ok = JSON.stringify({ type: "result", subtype: "success", is_error: false, result: "hi", session_id: "s-1" });

describe("classifyOutcome (shapes observed from CLI 2.1.332)", () => {
  test("success", () => {
    expect(classifyOutcome(outcome({ stdout: `${ok}\n` }))).toMatchObject({ kind: "ok", text: "hi", sessionId: "s-1" });
  });
  test("credit too low: exit 1, is_error, subtype success (sic)", () => {
    const stdout = JSON.stringify({
      type: "result",
      subtype: "success",
      is_error: true,
      result: "Credit balance is too low",
      session_id: "s",
      api_error_status: 400,
      terminal_reason: "api_error",
    });
    expect(classifyOutcome(outcome({ exitCode: 1, stdout })).kind).toBe("credit_too_low");
  });
  test("budget reached (the gateway's 400, as CLI 2.1.332 prints it) → budget_exceeded; the words alone are not", () => {
    const refused = {
      type: "result",
      subtype: "success",
      is_error: true,
      session_id: "s",
      api_error_status: 400,
      terminal_reason: "api_error",
      result:
        "API Error: 400 ProxyStaff: this tenant's monthly model budget is reached (budget_exceeded: 2 of 1 USD in 2026-12)",
    };
    expect(classifyOutcome(outcome({ exitCode: 1, stdout: JSON.stringify(refused) })).kind).toBe("budget_exceeded");
    const answer = { ...refused, is_error: false, api_error_status: null, result: "budget_exceeded is a code" };
    expect(classifyOutcome(outcome({ exitCode: 0, stdout: JSON.stringify(answer) })).kind).toBe("ok");
    // Observed too: the refused request was the CLI's own automatic compaction (after a huge reported usage).
    const compaction = {
      ...refused,
      api_error_status: null,
      result:
        "blocking_limit: Prompt is too long · automatic compaction failed: API Error: 400 ProxyStaff: this tenant's monthly model budget is reached (budget_exceeded: 2.0001 of 1 USD in 2026-12); no more model requests",
    };
    expect(classifyOutcome(outcome({ exitCode: 1, stdout: JSON.stringify(compaction) })).kind).toBe("budget_exceeded");
    const other500 = { ...refused, api_error_status: 500, result: "API Error: 500 budget_exceeded somewhere upstream" };
    expect(classifyOutcome(outcome({ exitCode: 1, stdout: JSON.stringify(other500) })).kind).toBe("crash");
  });
  test("stale session: exit 1, empty stdout, message on stderr", () => {
    const result = classifyOutcome(outcome({ exitCode: 1, stderr: "No conversation found with session ID: abc\n" }));
    expect(result).toMatchObject({ kind: "session_not_found", error: "No conversation found with session ID: abc" });
  });
  test("API unreachable after retries: is_error → crash with the reason", () => {
    const stdout = JSON.stringify({
      type: "result",
      subtype: "success",
      is_error: true,
      result: "API Error: Connection error.",
      session_id: "s",
      terminal_reason: "api_error",
    });
    const result = classifyOutcome(outcome({ exitCode: 1, stdout }));
    expect(result.kind).toBe("crash");
    if (result.kind === "crash") expect(result.error).toContain("Connection error");
  });
  test("timeout wins over whatever was printed", () => {
    expect(classifyOutcome(outcome({ timedOut: true, signal: "SIGTERM", exitCode: null, stdout: ok })).kind).toBe(
      "timeout",
    );
  });
  test("killed under a memory cap or a recorded cgroup limit → limit_exceeded; otherwise → crash", () => {
    expect(classifyOutcome(outcome({ exitCode: null, signal: "SIGKILL", memoryLimited: true })).kind).toBe(
      "limit_exceeded",
    );
    expect(classifyOutcome(outcome({ exitCode: 1, stderr: "bash: fork: Resource temporarily unavailable" })).kind).toBe(
      "limit_exceeded",
    );
    expect(classifyOutcome(outcome({ exitCode: 1, stdout: "not json", limitHit: "processes" })).kind).toBe(
      "limit_exceeded",
    );
    expect(classifyOutcome(outcome({ stdout: ok, limitHit: "processes" })).kind).toBe("ok");
    expect(classifyOutcome(outcome({ exitCode: null, signal: "SIGKILL" })).kind).toBe("crash");
  });
  test("exit 0 with nothing printed is bad output", () => {
    expect(classifyOutcome(outcome({})).kind).toBe("bad_output");
  });
});

describe("splitShellArgs", () => {
  test("quotes, escapes, empty strings", () => {
    expect(splitShellArgs(`--a "b c" 'd "e"' f\\ g ""`)).toEqual(["--a", "b c", 'd "e"', "f g", ""]);
    expect(splitShellArgs("  ")).toEqual([]);
    expect(() => splitShellArgs(`"open`)).toThrow(/unterminated/);
  });
});
