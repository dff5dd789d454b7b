/**
 * The agent module: runs the Claude Code CLI for one tenant (inside the bubblewrap sandbox) and classifies the
 * outcome. The agent's MCP tools live in ./tools/ with their own front door (src/agent/tools/index.ts).
 */
export type { AgentFailureKind, AgentResult, AgentRunner, AgentRunRequest } from "./runner.ts";
export { createAgentRunner, mcpConfigJson } from "./runner.ts";
export type { AgentRunnerOptions, ProcessAgentRunner } from "./runner.ts";
export { createAgentForServer } from "./runner.ts";
export type { AgentForServer } from "./runner.ts";
export { runWithSessionRetry } from "./runner.ts";
export type { RetriedAgentResult } from "./runner.ts";
export { formatPrompt, localTime } from "./prompt.ts";
export type { PromptItem } from "./prompt.ts";
export { AgentCommandNotFoundError, resolveAgentCommand, splitShellArgs } from "./command.ts";
export type { ResolvedAgentCommand } from "./command.ts";
export { spawnProcessGroup } from "./runner.ts";
export type { SpawnedProcess, SpawnFunction, SpawnSpec } from "./runner.ts";
export { classifyOutcome, cliResultSchema } from "./classify.ts";
export { buildAgentEnv, PLATFORM_SECRET_VARIABLES } from "./environment.ts";
export { BWRAP_INSTALL_HINT, checkSandbox, givePrivateScratch, runLimitsFor, sandboxHealth, sandboxWrapper, SandboxUnavailableError } from "./sandbox.ts";
export type { CheckSandboxOptions, PreparedRun, SandboxStatus, WrapInput } from "./sandbox.ts";
export { bwrapArgs, ETC_FILES } from "./sandbox.ts";
export type { BwrapMounts } from "./sandbox.ts";
export { DEFAULT_MAX_PROCESSES, limitArgs, resolveLimits, runShellPrefix, ulimitScript } from "./limits.ts";
export type { RunLimits } from "./limits.ts";
export { createRunCgroup, detectCgroups } from "./limits.ts";
export type { CgroupSupport, RunCgroup } from "./limits.ts";
export { runSandboxSelfCheck } from "./self-check.ts";
export { decideRunUser, makeEntriesPrivate, makeTraversable, prepareRunOwnership, PROBE_UID, runAsArgs, TENANT_UID_BASE, unreachableFolders } from "./run-user.ts";
export type { RunUser } from "./run-user.ts";
export type { SelfCheckItem, SelfCheckOptions } from "./self-check.ts";
