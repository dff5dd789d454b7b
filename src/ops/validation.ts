import { existsSync } from "node:fs";
import {
  AgentCommandNotFoundError,
  BWRAP_INSTALL_HINT,
  checkSandbox,
  resolveAgentCommand,
  SandboxUnavailableError,
} from "../agent/index.ts";
import type { Config } from "../config.ts";
import type { AppContext } from "../context.ts";
import { tenantEnvironment } from "../credentials/index.ts";
import { AppError, errorMessage } from "../errors.ts";
import { assertOwnedHere } from "../instances/index.ts";
import type { Tenant } from "../tenants/index.ts";
import { requireTenant, TEMPLATE_TOOLS, workspacePath } from "../tenants/index.ts";
import type { ToolHealth } from "./tool-health.ts";
import { runServerSideToolChecks, runToolHealthChecks } from "./tool-health.ts";
import type { CheckStatus, ValidationCheck } from "./validation-checks.ts";
import {
  checkLifecycle,
  checkLink,
  checkPhone,
  checkRecord,
  checkSession,
  checkTimezone,
  checkWhatsAppTemplate,
  checkWorkspace,
  serverSideCheck,
} from "./validation-checks.ts";

export type { CheckStatus, ValidationCheck };

import type { ResolvedAgentCommand } from "../agent/index.ts";

export interface ValidationReport {
  tenant_id: string;
  name: string;
  /** True when no check failed. */
  ok: boolean;
  counts: Record<CheckStatus, number>;
  checks: ValidationCheck[];
}

export interface ValidateOptions {
  /** Run every tool's --health-check (default true). */
  healthChecks?: boolean;
  /** Time limit per health check (default 20 s). */
  healthTimeoutMs?: number;
  /** Where the sandbox line looks for the agent CLI and bubblewrap (default: as the agent runner). */
  sandbox?: SandboxCheckOptions;
}

/**
 * The tenant's setup checklist: record and lifecycle, phone, time zone, workspace and CLAUDE.md,
 * template tools present, chat linked (Telegram) or number heard from (WhatsApp), whether agent
 * runs are isolated (sandbox), the credentials
 * each tool needs, the tools' health checks, and the session lease. NotFoundError for an unknown id.
 */
export async function validateTenant(
  ctx: AppContext,
  tenantId: string,
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  const tenant = await requireTenant(ctx.db, tenantId);
  await assertOwnedHere(ctx, tenant); // the checklist reads the workspace
  const runHealth = options.healthChecks ?? true;
  const checks: ValidationCheck[] = [
    checkRecord(tenant),
    checkLifecycle(tenant),
    checkPhone(tenant),
    checkTimezone(tenant),
    ...(await guarded("workspace", () => checkWorkspace(ctx, tenant))),
    ...(await guarded("link", () => checkLink(ctx, tenant))),
    ...(await guarded("whatsapp_template", async () => (await checkWhatsAppTemplate(ctx, tenant)) ?? [])),
    checkAgentSandbox(ctx.config, options.sandbox),
    checkModelGateway(ctx.config),
  ];
  const { env, problem } = await readEnvironment(ctx, tenant);
  if (problem) checks.push(problem);
  const missingByTool = new Map<string, string[]>();
  for (const tool of TEMPLATE_TOOLS) {
    if (tool.credentials.length === 0) continue;
    const missing = tool.credentials.filter((key) => !env[key]);
    missingByTool.set(tool.script, missing);
    checks.push(
      missing.length === 0
        ? { name: `credentials:${tool.script}`, status: "ok", detail: `Set: ${tool.credentials.join(", ")}.` }
        : {
            name: `credentials:${tool.script}`,
            status: "warn",
            detail: `${tool.script} cannot work without ${missing.join(", ")}.`,
            fix: `POST /admin/tenants/${tenant.id}/credentials with {"credentials": {"${missing[0]}": "…"}} (or the intake file's credentials).`,
          },
    );
  }
  if (runHealth && !problem && existsSync(workspacePath(ctx.config, tenant.id))) {
    checks.push(
      ...(await guarded("health", async () => {
        const results = await runToolHealthChecks(ctx, tenant.id, { timeoutMs: options.healthTimeoutMs });
        return results.map((health) => scriptHealthCheck(ctx, tenant, health, missingByTool));
      })),
    );
  }
  if (runHealth && !problem) {
    for (const health of await runServerSideToolChecks(ctx, tenant.id)) checks.push(serverSideCheck(tenant, health));
  }
  checks.push(...(await guarded("session", () => checkSession(ctx, tenant))));
  const counts = { ok: 0, warn: 0, fail: 0 };
  for (const c of checks) counts[c.status] += 1;
  return { tenant_id: tenant.id, name: tenant.name, ok: counts.fail === 0, counts, checks };
}

/**
 * Runs one check; anything it throws (say EISDIR because a file of the workspace is a directory)
 * becomes a failed line with the error's message, so one broken piece never hides the rest.
 */
async function guarded(
  name: string,
  run: () => ValidationCheck | ValidationCheck[] | Promise<ValidationCheck | ValidationCheck[]>,
): Promise<ValidationCheck[]> {
  try {
    const result = await run();
    return Array.isArray(result) ? result : [result];
  } catch (err) {
    return [
      {
        name,
        status: "fail",
        detail: `The check could not run: ${errorText(err)}`,
        fix: "Look at the tenant's folder: a file may be missing, unreadable or a directory.",
      },
    ];
  }
}

function errorText(err: unknown): string {
  if (err instanceof AppError) return `${err.code}: ${err.message}`;
  return errorMessage(err);
}

/** A tool script's --health-check as a line; a failure explained by missing credentials is only a warning. */
function scriptHealthCheck(
  ctx: AppContext,
  tenant: Tenant,
  health: ToolHealth,
  missingByTool: Map<string, string[]>,
): ValidationCheck {
  const lacksCredentials = (missingByTool.get(health.tool) ?? []).length > 0;
  const firstLine = health.output.split("\n").find(Boolean) ?? "";
  if (health.status === "ok")
    return { name: `health:${health.tool}`, status: "ok", detail: firstLine || "Health check passed." };
  return {
    name: `health:${health.tool}`,
    status: lacksCredentials ? "warn" : "fail",
    detail: health.output || `Exited with code ${health.exit_code}.`,
    fix: lacksCredentials
      ? "Set the missing credentials (see above), then validate again."
      : `Check the tool's credentials and service; run it by hand in ${workspacePath(ctx.config, tenant.id)}: python3 execution/${health.tool} --health-check (vault credentials are not in .env: put them in front, e.g. KEY=… python3 …)`,
  };
}

/** The tenant's environment, or a failed check when its vault or .env cannot be read (health checks are then skipped). */
async function readEnvironment(
  ctx: AppContext,
  tenant: Tenant,
): Promise<{ env: Record<string, string>; problem?: ValidationCheck }> {
  try {
    return { env: await tenantEnvironment(ctx, tenant) };
  } catch (err) {
    if (!(err instanceof AppError)) {
      // An unexpected I/O error (EACCES…). Reported, not thrown: the rest of the checklist still matters.
      return {
        env: {},
        problem: {
          name: "environment",
          status: "fail",
          detail: `The tenant's environment could not be read: ${errorText(err)} (tool health checks skipped)`,
          fix: `Make ${workspacePath(ctx.config, tenant.id)}/.env a regular file (or remove it), then validate again.`,
        },
      };
    }
    return {
      env: {},
      problem: {
        name: "environment",
        status: "fail",
        detail: `${err.message} (tool health checks skipped)`,
        fix:
          err.code === "unsafe_workspace_file"
            ? `Replace ${workspacePath(ctx.config, tenant.id)}/.env with a plain regular file (or remove it), then validate again.`
            : "Add the key these credentials were sealed with to CREDENTIALS_KEY_PREVIOUS (then run proxystaff rotate-credentials-key), or store them again.",
      },
    };
  }
}

/** The checklist as lines for a terminal. */
export function formatValidationReport(report: ValidationReport): string[] {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = [`Validation of ${report.name} (${report.tenant_id}):`];
  for (const c of report.checks) {
    const [first = "", ...rest] = c.detail.split("\n");
    lines.push(`  ${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${first}`);
    for (const more of rest.slice(0, 5)) lines.push(`        ${"".padEnd(width)}  ${more}`);
    if (c.fix && c.status !== "ok") lines.push(`        ${"".padEnd(width)}  fix: ${c.fix}`);
  }
  const { ok, warn, fail } = report.counts;
  lines.push(`Result: ${fail} failed, ${warn} warning(s), ${ok} ok${report.ok ? "" : " — NOT ready"}.`);
  return lines;
}

/** Where validate-tenant looks for the agent CLI and bubblewrap. */
export interface SandboxCheckOptions {
  /** PATH to find the agent CLI and `bwrap` on. Default: this process's PATH, as the agent runner uses. */
  hostPath?: string;
  /** Use this bwrap (null = as if it were not installed). Default: looked up on PATH. */
  bwrapPath?: string | null;
  /** Directories whose node_modules/.bin/claude is tried; default: the runner's. */
  searchRoots?: string[];
}

/** The "model gateway" line: whether this tenant's agent holds the platform's model login (off) or not (on). */
export function checkModelGateway(config: Config): ValidationCheck {
  return config.MODEL_GATEWAY === "on"
    ? {
        name: "model gateway",
        status: "ok",
        detail:
          "On: the agent reaches the model through /model/* with a token of its run; the platform's login stays on the server.",
      }
    : {
        name: "model gateway",
        status: "warn",
        detail: "Off: the agent holds the platform's model login in its environment and can read it.",
        fix: "Set MODEL_GATEWAY=on (docs/security.md).",
      };
}

const decided = new WeakMap<Config, ValidationCheck>();

/**
 * The "sandbox" line of validate-tenant: how this server's agent runs are isolated, decided exactly as the
 * runner decides it at start (the agent CLI is found, then `checkSandbox` runs bubblewrap with a run's mounts).
 * ok: bubblewrap works. warn: isolation is off (AGENT_SANDBOX=none, or auto without a working bwrap) —
 * tenants' agents can read each other's files. fail: AGENT_SANDBOX=bwrap and it does not work (the server
 * refuses to start), or no agent CLI at all. Never throws. Decided once per config with default options.
 */
export function checkAgentSandbox(config: Config, options: SandboxCheckOptions = {}): ValidationCheck {
  const isDefault =
    options.hostPath === undefined && options.bwrapPath === undefined && options.searchRoots === undefined;
  const known = isDefault ? decided.get(config) : undefined;
  if (known) return known;
  const check = decide(config, options);
  if (isDefault) decided.set(config, check);
  return check;
}

function decide(config: Config, options: SandboxCheckOptions): ValidationCheck {
  // The runner reads the server's PATH the same way (src/agent/runner.ts); config has no PATH of its own.
  const hostPath = options.hostPath ?? process.env.PATH ?? "";
  let command: ResolvedAgentCommand;
  try {
    command = resolveAgentCommand(config.AGENT_COMMAND, { path: hostPath, searchRoots: options.searchRoots });
  } catch (err) {
    if (!(err instanceof AgentCommandNotFoundError)) return failed(err);
    return {
      name: "sandbox",
      status: "fail",
      detail: `No agent can run here (so the sandbox was not checked): ${err.message}.`,
      fix: "Install the agent CLI as the message says, then validate again.",
    };
  }
  try {
    const status = checkSandbox(config, command, { hostPath, bwrapPath: options.bwrapPath });
    if (status.mode === "bwrap")
      return { name: "sandbox", status: "ok", detail: `Agent runs are isolated by bubblewrap (${status.bwrapPath}).` };
    return {
      name: "sandbox",
      status: "warn",
      detail: status.warning ?? "Agent runs are NOT isolated.",
      fix:
        config.AGENT_SANDBOX === "none"
          ? "Production sets AGENT_SANDBOX=bwrap (with bubblewrap installed)."
          : `${BWRAP_INSTALL_HINT} Then set AGENT_SANDBOX=bwrap.`,
    };
  } catch (err) {
    if (!(err instanceof SandboxUnavailableError)) return failed(err);
    return {
      name: "sandbox",
      status: "fail",
      detail: `${err.message.replace(` ${BWRAP_INSTALL_HINT}`, "")} The server refuses to start like this.`,
      fix: BWRAP_INSTALL_HINT,
    };
  }
}

function failed(err: unknown): ValidationCheck {
  return { name: "sandbox", status: "fail", detail: `The sandbox could not be checked: ${errorMessage(err)}` };
}
