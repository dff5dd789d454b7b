/** The agent module: runs the Claude Code CLI for one tenant and classifies the outcome. */
export type { AgentFailureKind, AgentResult, AgentRunner, AgentRunRequest } from "./types.ts";
export { createAgentRunner, mcpConfigJson } from "./runner.ts";
export type { AgentRunnerOptions, ProcessAgentRunner, WrapInput } from "./runner.ts";
export { runWithSessionRetry } from "./session-retry.ts";
export type { RetriedAgentResult } from "./session-retry.ts";
export { formatPrompt, localTime } from "./prompt.ts";
export type { PromptItem } from "./prompt.ts";
export { AgentCommandNotFoundError, resolveAgentCommand, splitShellArgs } from "./command.ts";
export type { ResolvedAgentCommand } from "./command.ts";
export { spawnProcessGroup } from "./process.ts";
export type { SpawnedProcess, SpawnFunction, SpawnSpec } from "./process.ts";
export { classifyOutcome, cliResultSchema } from "./classify.ts";
export { buildAgentEnv, PLATFORM_SECRET_VARIABLES } from "./environment.ts";
