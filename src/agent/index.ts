/**
 * The agent module: runs the Claude Code CLI for one tenant (inside the bubblewrap sandbox) and classifies the
 * outcome; the per-tenant uid, the limits and the self-check. The agent's MCP tools live in src/mcp/.
 */
export type { AgentFailureKind, AgentRunner } from "./runner.ts";
export { createAgentRunner } from "./runner.ts";
export { createAgentForServer } from "./runner.ts";
export { runWithSessionRetry } from "./runner.ts";
export type { RetriedAgentResult } from "./runner.ts";
export { formatPrompt } from "./prompt.ts";
export type { PromptItem } from "./prompt.ts";
export { AgentCommandNotFoundError, resolveAgentCommand } from "./command.ts";
export type { ResolvedAgentCommand } from "./command.ts";
export { BWRAP_INSTALL_HINT, checkSandbox, SandboxUnavailableError } from "./sandbox.ts";
export type { PreparedRun } from "./sandbox.ts";
export { runSandboxSelfCheck } from "./self-check.ts";
export { makeTraversable, prepareRunOwnership } from "./run-user.ts";
export type { SelfCheckItem } from "./self-check.ts";
