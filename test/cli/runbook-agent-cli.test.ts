import { expect, test } from "bun:test";
import { AgentCommandNotFoundError, resolveAgentCommand } from "../../src/agent/index.ts";

// The hint doctor and the server print when no agent CLI is found must fit both ways ProxyStaff is run.
test("a missing Claude Code CLI: the hint covers a source checkout, the binary / Docker image, and AGENT_COMMAND", () => {
  let error: unknown;
  try {
    resolveAgentCommand(undefined, { searchRoots: [], path: "" });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(AgentCommandNotFoundError);
  const message = (error as Error).message;
  expect(message).toContain("From a source checkout: run `npm install`");
  expect(message).toContain(
    "With the proxystaff binary or the Docker image: install it (`npm i -g @anthropic-ai/claude-code@2.1.332`",
  );
  expect(message).toContain("set AGENT_COMMAND");
});
