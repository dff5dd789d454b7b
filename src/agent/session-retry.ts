import type { AgentResult, AgentRunner, AgentRunRequest } from "./types.ts";

/** The result of a run that may have been retried without `--resume`. */
export type RetriedAgentResult = AgentResult & {
  /** True when the stored session was stale and the run was repeated fresh (store the new session id). */
  sessionReset: boolean;
};

/**
 * Runs the agent; when the stored session is unknown to the CLI (`session_not_found`, e.g. its transcript is
 * gone), runs once more without `--resume`. The caller stores `result.sessionId` when `kind` is "ok" either way.
 */
export async function runWithSessionRetry(runner: AgentRunner, request: AgentRunRequest): Promise<RetriedAgentResult> {
  const first = await runner.run(request);
  if (first.kind !== "session_not_found" || request.sessionId === null) return { ...first, sessionReset: false };
  const fresh = await runner.run({ ...request, sessionId: null });
  return { ...fresh, durationMs: first.durationMs + fresh.durationMs, sessionReset: true };
}
