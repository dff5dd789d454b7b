/**
 * The agent module: runs the Claude Code CLI for one tenant (inside the bubblewrap sandbox) and classifies the
 * outcome; the per-tenant uid, the limits and the self-check. The agent's MCP tools live in src/mcp/.
 */

export type { ResolvedAgentCommand } from "./command.ts";
export { AgentCommandNotFoundError, resolveAgentCommand, WARM_BLOCKED_FIX, warmBlockingArg } from "./command.ts";
export type { PromptItem } from "./prompt.ts";
export { formatPrompt } from "./prompt.ts";
export { decideRunUser, makeTraversable, prepareRunOwnership } from "./run-user.ts";
export type { AgentFailureKind, AgentRunner, RetriedAgentResult, RunAccess, RunGrant } from "./runner.ts";
export { createAgentForServer, createAgentRunner, createWarmPool, runWithSessionRetry } from "./runner.ts";
export type { PreparedRun } from "./sandbox.ts";
export { BWRAP_INSTALL_HINT, checkSandbox, SandboxUnavailableError } from "./sandbox.ts";
export type { SelfCheckItem } from "./self-check.ts";
export { runSandboxSelfCheck } from "./self-check.ts";
export type { RetireReason, WarmPoolStats } from "./warm-pool.ts";
export { WarmPool } from "./warm-pool.ts";
