import { z } from "zod";

/** What every outcome carries. */
interface ResultBase {
  durationMs: number;
  /** Exit code of the CLI process (null when killed by a signal). */
  exitCode: number | null;
}

/** Expected outcomes are values: the dispatcher decides from `kind`. */
export type AgentResult =
  | (ResultBase & { kind: "ok"; text: string; sessionId: string })
  | (ResultBase & { kind: "timeout"; error: string })
  | (ResultBase & { kind: "crash"; error: string })
  | (ResultBase & { kind: "bad_output"; error: string })
  | (ResultBase & { kind: "credit_too_low"; error: string })
  /** The model gateway refused a request: the tenant's monthly model budget is reached. */
  | (ResultBase & { kind: "budget_exceeded"; error: string })
  | (ResultBase & { kind: "session_not_found"; error: string })
  | (ResultBase & { kind: "limit_exceeded"; error: string })
  /** Refused before start: the tenant's files are over TENANT_DISK_MB. */
  | (ResultBase & { kind: "disk_quota_exceeded"; error: string })
  /** Refused before start: the volume holding TENANTS_DIR is below its free-space floor. */
  | (ResultBase & { kind: "disk_space_low"; error: string });

export type AgentFailureKind = Exclude<AgentResult["kind"], "ok">;

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
  /** A memory cap was in force (AGENT_MEMORY_MB): a death by SIGKILL/SIGSEGV/SIGABRT or an out-of-memory message then means the limit. */
  memoryLimited: boolean;
  /** The limit the run's cgroup recorded hitting (null/absent = none or unknown). */
  limitHit?: "processes" | "memory" | null;
  /** The time limit that applied (for the timeout message). */
  timeoutMs: number;
}

const CREDIT_TOO_LOW = /credit balance is too low/i;
/** The gateway's refusal names the code (src/usage/metering.ts); the CLI shows the API's message in its result. */
const BUDGET_EXCEEDED = /budget_exceeded/;
const GATEWAY_BUDGET_ERROR = /API Error: 400 ProxyStaff: [^\n]*\(budget_exceeded: /;
const BUDGET_EXCEEDED_ERROR = "the tenant's monthly model budget is reached; the gateway refused the model request";
const SESSION_NOT_FOUND = /No conversation found with session ID/i;
const PROCESS_LIMIT_HINT =
  /fork.*Resource temporarily unavailable|Resource temporarily unavailable.*fork|posix_spawn.*EAGAIN/i;
const MEMORY_LIMIT_HINT = /Cannot allocate memory|out of memory|JavaScript heap|std::bad_alloc/i;

/** Turns a finished CLI process into a classified AgentResult (see docs/agent.md for each kind). */
export function classifyOutcome(outcome: ProcessOutcome): AgentResult {
  const result = classifyProcess(outcome);
  if (result.kind === "ok" || result.kind === "timeout" || !outcome.limitHit) return result;
  const what = outcome.limitHit === "processes" ? "process limit" : "memory limit";
  return {
    kind: "limit_exceeded",
    durationMs: result.durationMs,
    exitCode: result.exitCode,
    error: `the agent hit the ${what} of its run (${result.error})`,
  };
}

function classifyProcess(outcome: ProcessOutcome): AgentResult {
  const base = { durationMs: outcome.durationMs, exitCode: outcome.exitCode };
  if (outcome.timedOut) {
    return {
      ...base,
      kind: "timeout",
      error: `the agent did not finish within ${outcome.timeoutMs} ms; its process group was killed`,
    };
  }
  const stderr = outcome.stderr.trim();
  if (SESSION_NOT_FOUND.test(stderr)) {
    return { ...base, kind: "session_not_found", error: firstLine(stderr) };
  }
  const stdout = outcome.stdout.trim();
  if (stdout === "") {
    if (CREDIT_TOO_LOW.test(stderr)) return { ...base, kind: "credit_too_low", error: "Credit balance is too low" };
    if (hitLimit(outcome, stderr)) return { ...base, kind: "limit_exceeded", error: limitError(outcome, stderr) };
    if (outcome.exitCode === 0)
      return { ...base, kind: "bad_output", error: "the agent exited 0 without printing a result" };
    return { ...base, kind: "crash", error: crashError(outcome, stderr) };
  }
  const parsed = parseResult(stdout);
  if (!parsed.ok) {
    if (hitLimit(outcome, stderr)) return { ...base, kind: "limit_exceeded", error: limitError(outcome, stderr) };
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
    // CLI 2.1.332 prints `"api_error_status":400,"result":"API Error: 400 <the gateway's message>"` (exit 1, no
    // retries), or — when the refused request was its own automatic compaction — `"result":"blocking_limit: Prompt is
    // too long · automatic compaction failed: API Error: 400 ProxyStaff: … (budget_exceeded: …)"`.
    if ((result.api_error_status === 400 && BUDGET_EXCEEDED.test(text)) || GATEWAY_BUDGET_ERROR.test(text)) {
      return { ...base, kind: "budget_exceeded", error: BUDGET_EXCEEDED_ERROR };
    }
    const detail = [
      result.terminal_reason,
      result.api_error_status ? `API status ${result.api_error_status}` : undefined,
      clip(text),
    ]
      .filter(Boolean)
      .join(": ");
    return {
      ...base,
      kind: "crash",
      error: `the agent reported an error (${result.subtype})${detail ? `: ${detail}` : ""}`,
    };
  }
  return { ...base, kind: "ok", text, sessionId: result.session_id };
}

function parseResult(stdout: string): { ok: true; value: CliResult } | { ok: false; error: string } {
  // The JSON result is the last line; anything a wrapper printed before it is ignored.
  const lastLine =
    stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .at(-1) ?? "";
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

function hitLimit(outcome: ProcessOutcome, stderr: string): boolean {
  if (PROCESS_LIMIT_HINT.test(stderr)) return true;
  const signal = outcome.signal;
  const killed = signal === "SIGKILL" || signal === "SIGSEGV" || signal === "SIGABRT";
  return outcome.memoryLimited && (killed || MEMORY_LIMIT_HINT.test(stderr));
}

function limitError(outcome: ProcessOutcome, stderr: string): string {
  const cause = PROCESS_LIMIT_HINT.test(stderr) ? "the process limit" : "the memory limit";
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
