/** One agent run: messages in, classified result out (independent of how the CLI process is obtained). */
export interface AgentRunRequest {
  tenantId: string;
  /** Absolute path of the tenant's workspace (the CLI's cwd). */
  workspace: string;
  /** The tenant's host uid (tenants.uid, see tenantUid): the run executes as it when the server is root. */
  uid: number;
  prompt: string;
  /** The CLI session to resume, or null for a fresh one. */
  sessionId: string | null;
  /** The tenant's own environment (.env merged with vault credentials); the runner adds the minimal base. */
  tenantEnv: Record<string, string>;
  /** IANA zone of the tenant (TZ of the process). */
  timezone: string;
  /** MCP endpoint and per-run token for the ProxyStaff tools, when the server offers them. */
  mcp?: { url: string; token: string };
  /** Aborting it kills the run's process group at once (SIGKILL); the run then ends as a crash "aborted: …". */
  signal?: AbortSignal;
}

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
  | (ResultBase & { kind: "session_not_found"; error: string })
  | (ResultBase & { kind: "limit_exceeded"; error: string })
  /** Refused before start: the tenant's files are over TENANT_DISK_MB. */
  | (ResultBase & { kind: "disk_quota_exceeded"; error: string })
  /** Refused before start: the volume holding TENANTS_DIR is below its free-space floor. */
  | (ResultBase & { kind: "disk_space_low"; error: string });

export type AgentFailureKind = Exclude<AgentResult["kind"], "ok">;

/** Runs the agent CLI once. */
export interface AgentRunner {
  run(request: AgentRunRequest): Promise<AgentResult>;
}
