import { z } from "zod";
import type { AgentResult } from "./types.ts";

/** The part of `claude -p --output-format json` output the runner relies on (CLI 2.1.x; extra fields ignored). */
export const cliResultSchema = z.object({
  type: z.literal("result"),
  subtype: z.string(),
  is_error: z.boolean(),
  result: z.string().optional(),
  session_id: z.string().min(1),
  api_error_status: z.number().nullable().optional(),
  terminal_reason: z.string().optional(),
  num_turns: z.number().optional(),
  total_cost_usd: z.number().optional(),
  permission_denials: z.array(z.unknown()).optional(),
});

export type CliResult = z.infer<typeof cliResultSchema>;

/** How one CLI process ended, as the runner observed it. */
export interface ProcessOutcome {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
  /** The sandbox's resource limits were in force (a SIGKILL/SIGSEGV/out-of-memory then means a limit). */
  limited: boolean;
  /** The time limit that applied (for the timeout message). */
  timeoutMs: number;
}

const CREDIT_TOO_LOW = /credit balance is too low/i;
const SESSION_NOT_FOUND = /No conversation found with session ID/i;
const LIMIT_HINTS = /(Resource temporarily unavailable|Cannot allocate memory|out of memory|JavaScript heap|std::bad_alloc|RangeError: Out of memory)/i;

/** Turns a finished CLI process into a classified AgentResult (see docs/agent.md for each kind). */
export function classifyOutcome(outcome: ProcessOutcome): AgentResult {
  const base = { durationMs: outcome.durationMs, exitCode: outcome.exitCode };
  if (outcome.timedOut) {
    return { ...base, kind: "timeout", error: `the agent did not finish within ${outcome.timeoutMs} ms; its process group was killed` };
  }
  const stderr = outcome.stderr.trim();
  if (SESSION_NOT_FOUND.test(stderr)) {
    return { ...base, kind: "session_not_found", error: firstLine(stderr) };
  }
  const stdout = outcome.stdout.trim();
  if (stdout === "") {
    if (CREDIT_TOO_LOW.test(stderr)) return { ...base, kind: "credit_too_low", error: "Credit balance is too low" };
    if (outcome.limited && (isLimitSignal(outcome.signal) || LIMIT_HINTS.test(stderr))) {
      return { ...base, kind: "limit_exceeded", error: limitError(outcome, stderr) };
    }
    if (outcome.exitCode === 0) return { ...base, kind: "bad_output", error: "the agent exited 0 without printing a result" };
    return { ...base, kind: "crash", error: crashError(outcome, stderr) };
  }
  const parsed = parseResult(stdout);
  if (!parsed.ok) {
    if (outcome.limited && (isLimitSignal(outcome.signal) || LIMIT_HINTS.test(stderr))) {
      return { ...base, kind: "limit_exceeded", error: limitError(outcome, stderr) };
    }
    if (outcome.exitCode !== 0 && outcome.exitCode !== null && !looksLikeJson(stdout)) {
      return { ...base, kind: "crash", error: crashError(outcome, stderr || stdout) };
    }
    return { ...base, kind: "bad_output", error: parsed.error };
  }
  const result = parsed.value;
  const text = result.result ?? "";
  if (result.is_error || outcome.exitCode !== 0) {
    if (CREDIT_TOO_LOW.test(text) || CREDIT_TOO_LOW.test(stderr)) {
      return { ...base, kind: "credit_too_low", error: "Credit balance is too low" };
    }
    const detail = [result.terminal_reason, result.api_error_status ? `API status ${result.api_error_status}` : undefined, clip(text)]
      .filter(Boolean)
      .join(": ");
    return { ...base, kind: "crash", error: `the agent reported an error (${result.subtype})${detail ? `: ${detail}` : ""}` };
  }
  return { ...base, kind: "ok", text, sessionId: result.session_id };
}

function parseResult(stdout: string): { ok: true; value: CliResult } | { ok: false; error: string } {
  // The JSON result is the last line; anything a wrapper printed before it is ignored.
  const lastLine = stdout.split("\n").filter((l) => l.trim() !== "").at(-1) ?? "";
  let json: unknown;
  try {
    json = JSON.parse(lastLine);
  } catch {
    return { ok: false, error: `the agent printed something that is not JSON: ${clip(lastLine, 120)}` };
  }
  const checked = cliResultSchema.safeParse(json);
  if (!checked.success) {
    const fields = checked.error.issues.map((i) => i.path.join(".") || "(root)").join(", ");
    return { ok: false, error: `the agent's JSON result does not have the expected shape (${fields})` };
  }
  return { ok: true, value: checked.data };
}

function isLimitSignal(signal: string | null): boolean {
  return signal === "SIGKILL" || signal === "SIGSEGV" || signal === "SIGABRT" || signal === "SIGXCPU";
}

function limitError(outcome: ProcessOutcome, stderr: string): string {
  const cause = /Resource temporarily unavailable/i.test(stderr) ? "the process limit" : "the memory limit";
  return `the agent hit ${cause} of its sandbox (${outcome.signal ? `signal ${outcome.signal}` : `exit ${outcome.exitCode}`})`;
}

function crashError(outcome: ProcessOutcome, detail: string): string {
  const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
  return `the agent ${how} without a result${detail ? `: ${clip(firstLine(detail))}` : ""}`;
}

function looksLikeJson(text: string): boolean {
  return text.startsWith("{") || text.startsWith("[");
}

function firstLine(text: string): string {
  return text.split("\n")[0]?.trim() ?? "";
}

function clip(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
