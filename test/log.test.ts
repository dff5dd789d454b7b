import { describe, expect, test } from "bun:test";
import { createLogger, redact, resolveLogFormat } from "../src/log.ts";

function capture(level: "debug" | "info" | "warn" | "error", redact: string[] = []) {
  const lines: string[] = [];
  return { lines, log: createLogger({ level, redact, write: (l) => lines.push(l) }) };
}

describe("createLogger", () => {
  test("JSON lines with level, time, msg and fields; child fields added", () => {
    const { lines, log } = capture("info");
    log.child({ tenantId: "t1" }).info("lease acquired", { leaseId: "l1" });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: "info", msg: "lease acquired", tenantId: "t1", leaseId: "l1" });
    expect(new Date(String(line.time)).toISOString()).toBe(String(line.time));
  });

  test("LOG_LEVEL: lower levels are dropped", () => {
    const { lines, log } = capture("warn");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(["w", "e"]);
  });

  test("errors keep name and message, not the stack", () => {
    const { lines, log } = capture("info");
    log.error("failed", { error: new TypeError("bad thing") });
    expect(JSON.parse(lines[0]!)).toMatchObject({ error: { name: "TypeError", message: "bad thing" } });
    expect(lines[0]).not.toContain(" at ");
  });

  test("secrets are redacted as is, JSON-escaped and percent-encoded", () => {
    const base64Key = "ab+cd/ef==ghijklmnop";
    const quoted = 'pa"ss\\word-123';
    const { lines, log } = capture("info", [base64Key, quoted, "123456:ABC-token"]);
    log.info(`token 123456:ABC-token in msg`, {
      key: base64Key,
      url: `/x?k=${encodeURIComponent(base64Key)}`,
      lower: `/x?k=${encodeURIComponent(base64Key).toLowerCase()}`,
      quoted,
      nested: { deep: [`bot123456:ABC-token/getMe`] },
    });
    const line = lines[0]!;
    expect(line).not.toContain("123456:ABC-token");
    expect(line).not.toContain("ab+cd/ef");
    expect(line).not.toContain("ab%2Bcd%2Fef");
    expect(line.toLowerCase()).not.toContain("ab%2bcd%2fef");
    expect(line).not.toContain("ss\\\\word");
    expect(line).toContain("[redacted]");
    expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe("error fields and redact", () => {
  test("an error's code and cause chain are kept", () => {
    const { lines, log } = capture("info");
    const root = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    log.error("send failed", { error: new Error("telegram send failed", { cause: root }) });
    expect(JSON.parse(lines[0]!)).toMatchObject({
      error: {
        name: "Error",
        message: "telegram send failed",
        cause: { message: "connect ECONNREFUSED", code: "ECONNREFUSED" },
      },
    });
  });

  test("redact works on plain text too", () => {
    expect(redact("token 123456:ABC-token and ab%2Bcd%2Fef%3D%3Dghij", ["123456:ABC-token", "ab+cd/ef==ghij"])).toBe(
      "token [redacted] and [redacted]",
    );
  });
});

describe("LOG_FORMAT", () => {
  test("pretty: one readable line (time, level, message, fields), secrets still redacted", () => {
    const lines: string[] = [];
    const log = createLogger({ format: "pretty", redact: ["123456:ABC-token"], write: (l) => lines.push(l) }).child({
      tenantId: "t1",
    });
    log.warn("send failed", { status: 401, reason: "token 123456:ABC-token refused", error: new Error("boom") });
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}send failed tenantId=t1 status=401 reason="token \[redacted\] refused" error=\{"name":"Error","message":"boom"\}$/,
    );
  });

  test("unset: pretty on a terminal, JSON otherwise; LOG_FORMAT wins either way", () => {
    expect(resolveLogFormat(undefined, { isTTY: true })).toBe("pretty");
    expect(resolveLogFormat(undefined, { isTTY: false })).toBe("json");
    expect(resolveLogFormat(undefined, {})).toBe("json");
    expect(resolveLogFormat("json", { isTTY: true })).toBe("json");
    expect(resolveLogFormat("pretty", { isTTY: false })).toBe("pretty");
  });

  test("a logger with its own writer stays JSON unless told otherwise", () => {
    const lines: string[] = [];
    createLogger({ write: (l) => lines.push(l) }).info("hello");
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", msg: "hello" });
  });
});
