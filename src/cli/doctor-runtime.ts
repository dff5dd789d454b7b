import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BWRAP_INSTALL_HINT, resolveAgentCommand, runSandboxSelfCheck } from "../agent/index.ts";
import type { ResolvedAgentCommand, SelfCheckItem } from "../agent/index.ts";
import type { Config } from "../config.ts";
import { errorText, fail, ok, warn } from "./doctor-checks.ts";
import type { DoctorCheck } from "./doctor-checks.ts";

const VERSION_TIMEOUT_MS = 20_000;

/** The agent CLI as the server would find it, and its --version (run outside any sandbox, in a scratch HOME). */
export async function checkAgentCli(config: Config, path: string | undefined): Promise<{ check: DoctorCheck; command: ResolvedAgentCommand | null }> {
  let command: ResolvedAgentCommand;
  try {
    command = resolveAgentCommand(config.AGENT_COMMAND, { path });
  } catch (error) {
    return { check: fail("claude CLI", errorText(error), "install it (`npm install` brings @anthropic-ai/claude-code) or set AGENT_COMMAND"), command: null };
  }
  const scratch = mkdtempSync(join(tmpdir(), "proxystaff-doctor-cli-"));
  try {
    const env = { PATH: path ?? "/usr/bin:/bin", HOME: scratch, CLAUDE_CONFIG_DIR: scratch, DISABLE_AUTOUPDATER: "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" };
    const result = await runWithTimeout([command.path, "--version"], env, VERSION_TIMEOUT_MS);
    if (result.exitCode !== 0) {
      const why = result.exitCode === null ? `no answer within ${VERSION_TIMEOUT_MS / 1000} s` : `exit ${result.exitCode}: ${firstLine(result.stderr || result.stdout)}`;
      return { check: fail("claude CLI", `${command.path} --version failed (${why})`, "reinstall the CLI (`npm install`), or point AGENT_COMMAND at a working one"), command };
    }
    return { check: ok("claude CLI", `${firstLine(result.stdout)} at ${command.path} (from ${command.source})`), command };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** python3 on PATH (tenants' execution/ tools are Python scripts). */
export async function checkPython(path: string | undefined): Promise<DoctorCheck> {
  const python = Bun.which("python3", { PATH: path ?? "/usr/bin:/bin" });
  if (!python) return fail("python3", "python3 is not on PATH: tenants' execution/ tools cannot run", "install it (Debian/Ubuntu: `apt-get install -y python3`)");
  const result = await runWithTimeout([python, "--version"], { PATH: path ?? "/usr/bin:/bin" }, VERSION_TIMEOUT_MS);
  if (result.exitCode !== 0) return fail("python3", `${python} --version failed`, "reinstall python3");
  return ok("python3", `${firstLine(result.stdout || result.stderr)} at ${python}`);
}

// Items of the self-check that must work whether or not runs are isolated; the rest are isolation.
const FUNCTIONAL_ITEMS = new Set(["own workspace writable", "python3 runs (execution/ tools)", "agent CLI starts inside", "probe inside the sandbox", "tenant uids reach their folders"]);

/**
 * The agent module's isolation self-check (a probe inside exactly the sandbox a run gets), as doctor lines.
 * With isolation off by choice (AGENT_SANDBOX=none) or as the auto fallback, the isolation items are warnings
 * (the server runs, loudly unisolated); with bubblewrap on, any isolation gap is a failure.
 */
export async function checkSandbox(config: Config, command: ResolvedAgentCommand): Promise<DoctorCheck[]> {
  let items: SelfCheckItem[];
  try {
    items = await runSandboxSelfCheck({ config }, { command });
  } catch (error) {
    return [fail("sandbox self-check", errorText(error), "see docs/security.md (Verify it on a deployment)")];
  }
  const sandboxItem = items.find((i) => i.name.startsWith("sandbox"));
  const isIsolated = sandboxItem?.ok === true;
  const lines: DoctorCheck[] = [];
  for (const item of items) {
    if (item.name === "agent CLI found") continue; // reported by the claude CLI line
    const name = item.name.startsWith("sandbox") ? item.name : `sandbox: ${item.name}`;
    if (item.ok) lines.push(ok(name, item.detail));
    else if (item === sandboxItem) lines.push(sandboxLine(config, name, item.detail));
    else if (item.name.startsWith("process and memory caps")) {
      lines.push(warn(name, item.detail, "run where the server can create cgroups (Fly machines can), or set AGENT_MEMORY_MB and accept RLIMIT-only caps"));
    } else if (FUNCTIONAL_ITEMS.has(item.name) || isIsolated) lines.push(fail(name, item.detail, "a run will not work like this: see docs/security.md (Verify it on a deployment)"));
    else lines.push(warn(name, item.detail, "follows from the sandbox being off"));
  }
  return lines;
}

function sandboxLine(config: Config, name: string, detail: string): DoctorCheck {
  if (config.AGENT_SANDBOX === "bwrap") return fail(name, detail, `the server refuses to start like this. ${BWRAP_INSTALL_HINT}`);
  if (config.AGENT_SANDBOX === "none") return warn(name, detail, "production sets AGENT_SANDBOX=bwrap");
  return warn(name, detail, `${BWRAP_INSTALL_HINT} Then set AGENT_SANDBOX=bwrap so the server never starts unisolated.`);
}

async function runWithTimeout(argv: string[], env: Record<string, string>, timeoutMs: number): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const child = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return { exitCode: timedOut ? null : exitCode, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0]?.slice(0, 200) ?? "";
}
