import { existsSync, readFileSync } from "node:fs";
import type { AppContext } from "../context.ts";
import { AppError } from "../errors.ts";
import { getSessionState } from "../conversation/index.ts";
import {
  TEMPLATE_EXECUTION_FILES,
  TEMPLATE_TOOLS,
  isValidTimezone,
  normalizePhone,
  requireTenant,
  resolveInWorkspace,
  tenantEnvironment,
  workspacePath,
} from "./index.ts";
import type { Tenant } from "./index.ts";
import { runServerSideToolChecks } from "./server-tool-health.ts";
import { runToolHealthChecks } from "./tool-health.ts";
import type { ToolHealth } from "./tool-health.ts";

/** ok: fine; warn: works but needs attention; fail: broken (validate-tenant exits non-zero). */
export type CheckStatus = "ok" | "warn" | "fail";

/** One line of the checklist. */
export interface ValidationCheck {
  /** Short id of the check, e.g. "workspace", "tool:send_email.py". */
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn/fail. */
  fix?: string;
}

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
}

/**
 * The tenant's setup checklist: record and lifecycle, phone, time zone, workspace and CLAUDE.md,
 * template tools present, chat linked (Telegram) or number reachable (WhatsApp), the credentials
 * each tool needs, the tools' health checks, and the session lease. NotFoundError for an unknown id.
 */
export async function validateTenant(ctx: AppContext, tenantId: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const checks: ValidationCheck[] = [
    checkRecord(tenant),
    checkLifecycle(tenant),
    checkPhone(tenant),
    checkTimezone(tenant),
    ...checkWorkspace(ctx, tenant),
    checkLink(ctx, tenant),
  ];
  const { env, problem } = await readEnvironment(ctx, tenant.id);
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
  if ((options.healthChecks ?? true) && !problem && existsSync(workspacePath(ctx.config, tenant.id))) {
    for (const health of await runToolHealthChecks(ctx, tenant.id, { timeoutMs: options.healthTimeoutMs })) {
      const lacksCredentials = (missingByTool.get(health.tool) ?? []).length > 0;
      const firstLine = health.output.split("\n").find(Boolean) ?? "";
      checks.push(
        health.status === "ok"
          ? { name: `health:${health.tool}`, status: "ok", detail: firstLine || "Health check passed." }
          : {
              name: `health:${health.tool}`,
              status: lacksCredentials ? "warn" : "fail",
              detail: health.output || `Exited with code ${health.exit_code}.`,
              fix: lacksCredentials
                ? "Set the missing credentials (see above), then validate again."
                : `Check the tool's credentials and service; run it by hand in ${workspacePath(ctx.config, tenant.id)}: python3 execution/${health.tool} --health-check (vault credentials are not in .env: put them in front, e.g. KEY=… python3 …)`,
            },
      );
    }
  }
  if ((options.healthChecks ?? true) && !problem) {
    for (const health of await runServerSideToolChecks(ctx, tenant.id)) checks.push(serverSideCheck(tenant, health));
  }
  checks.push(await checkSession(ctx, tenant));
  const counts = { ok: 0, warn: 0, fail: 0 };
  for (const c of checks) counts[c.status] += 1;
  return { tenant_id: tenant.id, name: tenant.name, ok: counts.fail === 0, counts, checks };
}

/** The tenant's environment, or a failed check when its vault or .env cannot be read (health checks are then skipped). */
async function readEnvironment(ctx: AppContext, tenantId: string): Promise<{ env: Record<string, string>; problem?: ValidationCheck }> {
  try {
    return { env: await tenantEnvironment(ctx, tenantId) };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return {
      env: {},
      problem: {
        name: "environment",
        status: "fail",
        detail: `${err.message} (tool health checks skipped)`,
        fix:
          err.code === "path_outside_workspace"
            ? "Replace the workspace .env with a regular file."
            : "Add the key these credentials were sealed with to CREDENTIALS_KEY_PREVIOUS (then run proxystaff rotate-credentials-key), or store them again.",
      },
    };
  }
}

/** A server-side MCP tool's health (e.g. "send_email (server-side)") as a checklist line. */
function serverSideCheck(t: Tenant, health: ToolHealth): ValidationCheck {
  if (health.status === "ok") return { name: health.tool, status: "ok", detail: health.output };
  if (health.status === "warn") {
    return {
      name: health.tool,
      status: "warn",
      detail: health.output,
      fix: `POST /admin/tenants/${t.id}/credentials with {"credentials": {"SENDGRID_API_KEY": "…", "SENDGRID_FROM_EMAIL": "…"}} (only if the business sends email).`,
    };
  }
  return {
    name: health.tool,
    status: "fail",
    detail: health.output,
    fix: "Check the key in SendGrid (Settings > API Keys; it needs mail.send), store it again, and check that the server reaches SENDGRID_API_BASE.",
  };
}

function checkRecord(t: Tenant): ValidationCheck {
  if (t.status === "ACTIVE") return { name: "record", status: "ok", detail: `Tenant exists and is ACTIVE (${t.channel}).` };
  return {
    name: "record",
    status: "fail",
    detail: "Tenant is ARCHIVED: its messages are rejected.",
    fix: `If that is a mistake: UPDATE tenants SET status = 'ACTIVE' WHERE id = '${t.id}';`,
  };
}

function checkLifecycle(t: Tenant): ValidationCheck {
  if (t.onboarding_status !== "PAUSED") return { name: "lifecycle", status: "ok", detail: `Onboarding status ${t.onboarding_status}.` };
  return {
    name: "lifecycle",
    status: "warn",
    detail: "Tenant is PAUSED: the customer's messages get a short 'paused' reply and no agent run.",
    fix: `proxystaff set-status ${t.id} LIVE`,
  };
}

function checkPhone(t: Tenant): ValidationCheck {
  let normalized: string | undefined;
  try {
    normalized = normalizePhone(t.phone_number);
  } catch {
    normalized = undefined; // reported below as a failure
  }
  if (normalized === t.phone_number) return { name: "phone", status: "ok", detail: `${t.phone_number} is valid E.164.` };
  return {
    name: "phone",
    status: "fail",
    detail: `Phone number ${JSON.stringify(t.phone_number)} is not valid E.164.`,
    fix: normalized
      ? `UPDATE tenants SET phone_number = '${normalized}' WHERE id = '${t.id}';`
      : "Correct tenants.phone_number to +<country code><number>.",
  };
}

function checkTimezone(t: Tenant): ValidationCheck {
  if (isValidTimezone(t.timezone)) return { name: "timezone", status: "ok", detail: `Time zone ${t.timezone}.` };
  return {
    name: "timezone",
    status: "fail",
    detail: `Time zone ${JSON.stringify(t.timezone)} is not an IANA zone.`,
    fix: `PATCH /admin/tenants/${t.id} with {"timezone": "America/Denver"} (or UTC).`,
  };
}

function checkWorkspace(ctx: AppContext, t: Tenant): ValidationCheck[] {
  const dir = workspacePath(ctx.config, t.id);
  const reinit = `proxystaff init-tenant ${t.id}`;
  if (!existsSync(dir)) return [{ name: "workspace", status: "fail", detail: `Folder ${dir} is missing.`, fix: reinit }];
  const checks: ValidationCheck[] = [{ name: "workspace", status: "ok", detail: `Folder ${dir} exists.` }];
  const claudeMd = resolveInWorkspace(ctx.config, t.id, "CLAUDE.md");
  checks.push(
    existsSync(claudeMd)
      ? { name: "CLAUDE.md", status: "ok", detail: "CLAUDE.md present." }
      : { name: "CLAUDE.md", status: "fail", detail: "CLAUDE.md is missing: the agent has no instructions.", fix: reinit },
  );
  for (const tool of TEMPLATE_TOOLS) {
    const file = resolveInWorkspace(ctx.config, t.id, `execution/${tool.script}`);
    const name = `tool:${tool.script}`;
    if (!existsSync(file)) {
      checks.push({ name, status: "fail", detail: `execution/${tool.script} is missing.`, fix: reinit });
    } else if (readFileSync(file, "utf8") !== TEMPLATE_EXECUTION_FILES[tool.script]) {
      checks.push({ name, status: "warn", detail: `execution/${tool.script} differs from the template.`, fix: `${reinit} (restores the template's scripts)` });
    } else {
      checks.push({ name, status: "ok", detail: `execution/${tool.script} present.` });
    }
  }
  return checks;
}

function checkLink(ctx: AppContext, t: Tenant): ValidationCheck {
  if (t.channel === "whatsapp") {
    const c = ctx.config;
    const missing = (["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM"] as const).filter((k) => !c[k]);
    if (missing.length > 0) {
      return {
        name: "link",
        status: "fail",
        detail: `WhatsApp is not configured on this server (${missing.join(", ")} unset), so ${t.phone_number} cannot be reached.`,
        fix: `Set ${missing.join(", ")} (fly secrets set …) and restart.`,
      };
    }
    return { name: "link", status: "ok", detail: `WhatsApp via ${c.TWILIO_WHATSAPP_FROM}; ${t.phone_number} links itself with its first message.` };
  }
  if (t.telegram_chat_id) {
    const bot = ctx.config.TELEGRAM_BOT_TOKEN ? "" : " (but TELEGRAM_BOT_TOKEN is not set on this server)";
    return { name: "link", status: ctx.config.TELEGRAM_BOT_TOKEN ? "ok" : "warn", detail: `Telegram chat ${t.telegram_chat_id} linked${bot}.` };
  }
  return {
    name: "link",
    status: "warn",
    detail: "No Telegram chat linked yet.",
    fix: `The customer sends "/start ${t.phone_number}" to your Telegram bot (or POST /admin/tenants/${t.id}/link with {"telegram_chat_id": "…"}).`,
  };
}

async function checkSession(ctx: AppContext, t: Tenant): Promise<ValidationCheck> {
  const session = await getSessionState(ctx.db, t.id);
  if (!session) return { name: "session", status: "ok", detail: "No agent session yet (starts with the first message)." };
  const resumes = session.agent_session_id ? `resumes agent session ${session.agent_session_id}` : "no agent session stored";
  const expires = session.lease_expires_at ? Date.parse(session.lease_expires_at) : Number.NaN;
  if (!Number.isFinite(expires) || expires <= ctx.clock.now()) {
    return { name: "session", status: "ok", detail: `Lease free; ${resumes}.` };
  }
  return {
    name: "session",
    status: "warn",
    detail: `Lease held by ${session.lease_owner ?? "?"} until ${session.lease_expires_at} (an agent run is in progress); ${resumes}.`,
    fix: `If the run is stuck: POST /admin/tenants/${t.id}/reset-session (or UPDATE conversation_sessions SET lease_expires_at = NULL WHERE tenant_id = '${t.id}';).`,
  };
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
