import { join } from "node:path";
import type { PreparedRun } from "../agent/index.ts";
import { makeTraversable, prepareRunOwnership } from "../agent/index.ts";
import type { ToolSandbox, ToolWrap } from "../agent/tool-sandbox.ts";
import { toolSandbox } from "../agent/tool-sandbox.ts";
import { platformSecrets } from "../config.ts";
import type { AppContext } from "../context.ts";
import { tenantEnvironment, tenantSecretValues } from "../credentials/index.ts";
import { errorMessage } from "../errors.ts";
import { assertOwnedHere } from "../instances/index.ts";
import { redact } from "../log.ts";
import type { ToolsHealthOptions } from "../mcp/index.ts";
import { checkToolsHealth, SERVER_SIDE_CREDENTIALS } from "../mcp/index.ts";
import { requireTenant, tenantUid, workspacePath } from "../tenants/index.ts";
import {
  listWorkspaceDir,
  MAX_SCRIPT_BYTES,
  readWorkspaceFile,
  UnsafeWorkspaceFileError,
} from "../tenants/workspace-fs.ts";

/** One tool's health: a script's `--health-check` result, or a server-side MCP tool's check. */
export interface ToolHealth {
  /** The script, relative to execution/ (e.g. "send_email.py"), or "<tool> (server-side)". */
  tool: string;
  /** "warn" only for a server-side tool whose credential is not set (scripts are ok or failed). */
  status: "ok" | "warn" | "failed";
  /** What the check printed (stdout, then stderr), trimmed, secrets replaced by [redacted]. */
  output: string;
  exit_code: number | null;
  duration_ms: number;
}

export interface ToolHealthOptions {
  /** Time limit per tool; the process is killed past it. Default 20 s. */
  timeoutMs?: number;
  /** The interpreter. Default "python3". */
  python?: string;
  /** Isolation; default: decided from AGENT_SANDBOX and a bubblewrap probe (see toolSandbox). */
  sandbox?: ToolSandbox;
}

/** Longest output kept per tool. */
const MAX_OUTPUT_CHARS = 2000;
/** The PATH tools run with (the server's own environment is never passed on). */
const TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The tools in the tenant's execution/ folder: every `*.py` that supports `--health-check`
 * (libraries such as env_loader.py do not), sorted by name. A script that is not a plain regular file
 * (symlink, FIFO, hard link) or is over MAX_SCRIPT_BYTES is skipped, never read.
 */
export function discoverTools(ctx: Pick<AppContext, "config">, tenantId: string): string[] {
  const names = listWorkspaceDir(ctx.config, tenantId, "execution") ?? [];
  return names
    .filter((name) => name.endsWith(".py") && readScript(ctx, tenantId, name)?.includes("--health-check") === true)
    .sort();
}

function readScript(ctx: Pick<AppContext, "config">, tenantId: string, name: string): string | null {
  try {
    return readWorkspaceFile(ctx.config, tenantId, `execution/${name}`, MAX_SCRIPT_BYTES);
  } catch (err) {
    if (err instanceof UnsafeWorkspaceFileError) return null; // not a script the platform runs; validation names it
    throw err;
  }
}

/**
 * Runs each tool's `--health-check` in the tenant's workspace with the tenant's environment
 * (its .env merged with its vault credentials) minus the credentials only server-side tools use
 * (SERVER_SIDE_CREDENTIALS, e.g. SENDGRID_API_KEY: the agent can edit these scripts, so they get
 * exactly what an agent run gets), one at a time, each under a time limit, as the tenant's uid inside the same
 * kind of bubblewrap sandbox as agent runs. Output is redacted: no credential value of the tenant and no
 * platform secret is returned.
 */
export async function runToolHealthChecks(
  ctx: AppContext,
  tenantId: string,
  options: ToolHealthOptions = {},
): Promise<ToolHealth[]> {
  const cwd = workspacePath(ctx.config, tenantId);
  const tenant = await requireTenant(ctx.db, tenantId);
  await assertOwnedHere(ctx, tenant); // the tools are scripts in the workspace
  const tenantEnv = await tenantEnvironment(ctx, tenant);
  const env: Record<string, string> = {
    PATH: TOOL_PATH,
    HOME: cwd,
    LANG: "C.UTF-8",
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONUNBUFFERED: "1",
    SENDGRID_API_BASE: ctx.config.SENDGRID_API_BASE,
    ...withoutServerSideCredentials(tenantEnv),
  };
  const secrets = [...tenantSecretValues(tenantEnv), ...platformSecrets(ctx.config)];
  const sandbox = options.sandbox ?? toolSandbox(ctx.config, ctx.log);
  const tools = discoverTools(ctx, tenantId);
  const runAs = sandbox.mode !== "refused" && tools.length > 0 ? await asTenantUid(ctx, sandbox, tenantId, cwd) : null;
  const results: ToolHealth[] = [];
  for (const tool of tools) {
    const result =
      sandbox.mode === "refused" || runAs === null
        ? {
            tool,
            status: "failed" as const,
            output: `Not run: ${sandbox.mode === "refused" ? sandbox.reason : "no sandbox"}.`,
            exit_code: null,
            duration_ms: 0,
          }
        : await runOne(tool, cwd, env, options, runAs);
    result.output = redact(result.output, secrets);
    ctx.log.info("tool health check", { tenantId, tool, status: result.status, duration_ms: result.duration_ms });
    results.push(result);
  }
  return results;
}

/** Gives the workspace to the tenant's uid (as before an agent run) and returns the wrap that runs a tool as it. */
async function asTenantUid(
  ctx: AppContext,
  sandbox: Exclude<ToolSandbox, { mode: "refused" }>,
  tenantId: string,
  workspace: string,
): Promise<(argv: string[], workspace: string) => PreparedRun> {
  const uid = await tenantUid(ctx.db, tenantId);
  makeTraversable(sandbox.runUser, [ctx.config.TENANTS_DIR]);
  await prepareRunOwnership(sandbox.runUser, uid, [workspace]);
  const wrap: ToolWrap = sandbox.wrap;
  return (argv, cwd) => wrap(argv, cwd, uid);
}

/** The environment minus the credentials that only server-side tools may use (as agent runs withhold them). */
function withoutServerSideCredentials(env: Record<string, string>): Record<string, string> {
  const withheld = new Set(SERVER_SIDE_CREDENTIALS);
  return Object.fromEntries(Object.entries(env).filter(([key]) => !withheld.has(key)));
}

async function runOne(
  tool: string,
  cwd: string,
  env: Record<string, string>,
  options: ToolHealthOptions,
  wrap: (argv: string[], workspace: string) => PreparedRun,
): Promise<ToolHealth> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  const argv = [options.python ?? "python3", join("execution", tool), "--health-check"];
  // The same limits as agent runs (own cgroup, process and memory caps, a sized /tmp): the agent can edit this script.
  const run = wrap(argv, cwd);
  try {
    proc = Bun.spawn(run.argv, {
      cwd,
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
  } catch (err) {
    run.dispose();
    const why = errorMessage(err);
    return {
      tool,
      status: "failed",
      output: `Could not start the tool: ${why}`,
      exit_code: null,
      duration_ms: elapsed(),
    };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]).finally(() => clearTimeout(timer));
  const limitHit = run.limitHit();
  run.dispose();
  let output = [stdout.trim(), stderr.trim()].filter(Boolean).join("\n");
  if (limitHit)
    output = `Hit the ${limitHit === "memory" ? "memory" : "process"} limit of agent runs.${output ? `\n${output}` : ""}`;
  if (timedOut) output = `Timed out after ${timeoutMs} ms.${output ? `\n${output}` : ""}`;
  if (output.length > MAX_OUTPUT_CHARS) output = `…${output.slice(-MAX_OUTPUT_CHARS)}`;
  const ok = !timedOut && exitCode === 0;
  return { tool, status: ok ? "ok" : "failed", output, exit_code: timedOut ? null : exitCode, duration_ms: elapsed() };
}

/** Suffix naming an MCP tool that runs on the server (it uses credentials the agent never sees). */
const SERVER_SIDE_SUFFIX = " (server-side)";

/**
 * The health of the MCP tools that run server-side with a tenant's secret (today send_email:
 * SENDGRID_API_KEY stored, a sender known, SendGrid reachable and accepting the key), in the shape
 * of the script checks: tool "send_email (server-side)"; ok, warn when a credential is missing
 * (the tenant may simply not use email), failed when configured but refused or unreachable.
 * Never throws: a check that cannot run (e.g. an undecryptable vault) is a failed line with the reason.
 */
export async function runServerSideToolChecks(
  ctx: AppContext,
  tenantId: string,
  options: ToolsHealthOptions = {},
): Promise<ToolHealth[]> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const results = await checkToolsHealth(ctx, tenantId, options);
    return results.map((r) => ({
      tool: `${r.tool}${SERVER_SIDE_SUFFIX}`,
      status: r.status === "ok" ? "ok" : r.status === "not_configured" ? "warn" : "failed",
      output: r.detail,
      exit_code: null,
      duration_ms: elapsed(),
    }));
  } catch (err) {
    ctx.log.warn("server-side tool health check failed", { tenantId, error: err as Error });
    const why = errorMessage(err);
    return [
      {
        tool: `send_email${SERVER_SIDE_SUFFIX}`,
        status: "failed",
        output: `The check could not run: ${why}`,
        exit_code: null,
        duration_ms: elapsed(),
      },
    ];
  }
}
