import { existsSync } from "node:fs";
import type { AppContext } from "../context.ts";
import { getSessionState, listMessages, whatsappTemplateSid } from "../conversation/index.ts";
import type { Tenant } from "../tenants/index.ts";
import {
  CHANNELS,
  isValidTimezone,
  normalizePhone,
  ONBOARDING_STATUSES,
  TEMPLATE_EXECUTION_FILES,
  TEMPLATE_TOOLS,
  TENANT_STATUSES,
  workspacePath,
} from "../tenants/index.ts";
import {
  MAX_SCRIPT_BYTES,
  readWorkspaceFile,
  statWorkspaceEntry,
  UnsafeWorkspaceFileError,
} from "../tenants/workspace-fs.ts";
import type { ToolHealth } from "./tool-health.ts";

// The individual lines of validate-tenant's checklist (validation.ts runs them in order).

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

/** A server-side MCP tool's health (e.g. "send_email (server-side)") as a checklist line. */
export function serverSideCheck(t: Tenant, health: ToolHealth): ValidationCheck {
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

export function checkRecord(t: Tenant): ValidationCheck {
  const status: string = t.status;
  if (status === "ACTIVE")
    return { name: "record", status: "ok", detail: `Tenant exists and is ACTIVE (${t.channel}).` };
  if (status === "ARCHIVED") {
    return {
      name: "record",
      status: "fail",
      detail: "Tenant is ARCHIVED: its messages are rejected.",
      fix: `If that is a mistake: UPDATE tenants SET status = 'ACTIVE' WHERE id = '${t.id}';`,
    };
  }
  return unknownValue(t, "record", "status", status, TENANT_STATUSES);
}

export function checkLifecycle(t: Tenant): ValidationCheck {
  const stage: string = t.onboarding_status;
  if (!(ONBOARDING_STATUSES as readonly string[]).includes(stage))
    return unknownValue(t, "lifecycle", "onboarding_status", stage, ONBOARDING_STATUSES);
  if (stage !== "PAUSED") return { name: "lifecycle", status: "ok", detail: `Onboarding status ${stage}.` };
  return {
    name: "lifecycle",
    status: "warn",
    detail: "Tenant is PAUSED: the customer's messages get a short 'paused' reply and no agent run.",
    fix: `proxystaff set-status ${t.id} LIVE`,
  };
}

/**
 * A column holding a value outside its contract (written by hand with SQL, e.g. 'live' or 'active'):
 * a failed line showing the raw value, with the UPDATE that fixes it (the upper-cased value when that is valid).
 */
function unknownValue(t: Tenant, name: string, column: string, raw: string, valid: readonly string[]): ValidationCheck {
  const guess = valid.find((v) => v.toLowerCase() === raw.trim().toLowerCase());
  return {
    name,
    status: "fail",
    detail: `${column} is ${JSON.stringify(raw)}, which is not a valid value (valid: ${valid.join(", ")}; values are case-sensitive).`,
    fix: `UPDATE tenants SET ${column} = '${guess ?? valid[0]}' WHERE id = '${t.id}';${guess ? "" : ` (or another of ${valid.join(", ")})`}`,
  };
}

export function checkPhone(t: Tenant): ValidationCheck {
  let normalized: string | undefined;
  try {
    normalized = normalizePhone(t.phone_number);
  } catch {
    normalized = undefined; // reported below as a failure
  }
  if (normalized === t.phone_number)
    return { name: "phone", status: "ok", detail: `${t.phone_number} is valid E.164.` };
  return {
    name: "phone",
    status: "fail",
    detail: `Phone number ${JSON.stringify(t.phone_number)} is not valid E.164.`,
    fix: normalized
      ? `UPDATE tenants SET phone_number = '${normalized}' WHERE id = '${t.id}';`
      : "Correct tenants.phone_number to +<country code><number>.",
  };
}

export function checkTimezone(t: Tenant): ValidationCheck {
  if (isValidTimezone(t.timezone)) return { name: "timezone", status: "ok", detail: `Time zone ${t.timezone}.` };
  return {
    name: "timezone",
    status: "fail",
    detail: `Time zone ${JSON.stringify(t.timezone)} is not an IANA zone.`,
    fix: `PATCH /admin/tenants/${t.id} with {"timezone": "America/Denver"} (or UTC).`,
  };
}

export function checkWorkspace(ctx: AppContext, t: Tenant): ValidationCheck[] {
  const dir = workspacePath(ctx.config, t.id);
  const reinit = `proxystaff init-tenant ${t.id}`;
  if (!existsSync(dir))
    return [{ name: "workspace", status: "fail", detail: `Folder ${dir} is missing.`, fix: reinit }];
  const checks: ValidationCheck[] = [{ name: "workspace", status: "ok", detail: `Folder ${dir} exists.` }];
  const claudeMd = statWorkspaceEntry(ctx.config, t.id, "CLAUDE.md");
  checks.push(
    claudeMd?.isFile() && claudeMd.nlink === 1
      ? { name: "CLAUDE.md", status: "ok", detail: "CLAUDE.md present." }
      : claudeMd
        ? {
            name: "CLAUDE.md",
            status: "fail",
            detail: "CLAUDE.md is not a plain regular file (a symlink, FIFO, folder or hard link): runs are refused.",
            fix: `Remove ${dir}/CLAUDE.md, then ${reinit}.`,
          }
        : {
            name: "CLAUDE.md",
            status: "fail",
            detail: "CLAUDE.md is missing: the agent has no instructions.",
            fix: reinit,
          },
  );
  for (const tool of TEMPLATE_TOOLS) {
    const name = `tool:${tool.script}`;
    let text: string | null;
    try {
      text = readWorkspaceFile(ctx.config, t.id, `execution/${tool.script}`, MAX_SCRIPT_BYTES);
    } catch (err) {
      if (!(err instanceof UnsafeWorkspaceFileError)) throw err;
      checks.push({ name, status: "fail", detail: err.message, fix: `${reinit} (replaces the template's scripts)` });
      continue;
    }
    if (text === null) {
      checks.push({ name, status: "fail", detail: `execution/${tool.script} is missing.`, fix: reinit });
    } else if (text !== TEMPLATE_EXECUTION_FILES[tool.script]) {
      checks.push({
        name,
        status: "warn",
        detail: `execution/${tool.script} differs from the template.`,
        fix: `${reinit} (restores the template's scripts)`,
      });
    } else {
      checks.push({ name, status: "ok", detail: `execution/${tool.script} present.` });
    }
  }
  return checks;
}

/** How many of the tenant's newest messages are searched for one the customer sent on WhatsApp. */
const WHATSAPP_RECENT_MESSAGES = 50;

/**
 * WhatsApp only: whether messages outside the 24-hour window (scheduled reminders, late replies) can go
 * out as an approved template; without one they fail with outside_whatsapp_window. Null for Telegram.
 */
export async function checkWhatsAppTemplate(ctx: AppContext, t: Tenant): Promise<ValidationCheck | null> {
  if (t.channel !== "whatsapp") return null;
  const sid = await whatsappTemplateSid(ctx, t.id);
  if (sid) {
    return {
      name: "whatsapp_template",
      status: "ok",
      detail: `Messages outside WhatsApp's 24-hour window go as the template ${sid}.`,
    };
  }
  return {
    name: "whatsapp_template",
    status: "warn",
    detail:
      "No WhatsApp template: once the customer has not written for 24 hours, scheduled reminders, send_message and late replies fail (outside_whatsapp_window).",
    fix: `Create a template with one variable ({{1}}) in Twilio's Content Template Builder, get it approved for WhatsApp, then set WHATSAPP_TEMPLATE_SID=HX… for the platform, or POST /admin/tenants/${t.id}/credentials with {"credentials": {"WHATSAPP_TEMPLATE_SID": "HX…"}} (docs/channels.md).`,
  };
}

export async function checkLink(ctx: AppContext, t: Tenant): Promise<ValidationCheck> {
  const channel: string = t.channel;
  if (!(CHANNELS as readonly string[]).includes(channel)) return unknownValue(t, "link", "channel", channel, CHANNELS);
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
    const from = c.TWILIO_WHATSAPP_FROM ?? "";
    // Twilio's settings being present says nothing about the customer's number: only a message from it does.
    const recent = await listMessages(ctx.db, { tenantId: t.id, limit: WHATSAPP_RECENT_MESSAGES });
    const heard = recent.find((m) => m.direction === "in" && m.channel === "whatsapp" && m.kind === "chat");
    if (heard) {
      return {
        name: "link",
        status: "ok",
        detail: `WhatsApp via ${from}; ${t.phone_number} has written in (last at ${heard.created_at}).`,
      };
    }
    return {
      name: "link",
      status: "warn",
      detail: `Twilio configured (WhatsApp via ${from}); the number itself is not verified: no WhatsApp message from ${t.phone_number} yet.`,
      fix: `The customer sends any WhatsApp message from ${t.phone_number} to ${from.replace(/^whatsapp:/, "")}; the tenant links itself by that number.`,
    };
  }
  if (t.telegram_chat_id) {
    const bot = ctx.config.TELEGRAM_BOT_TOKEN ? "" : " (but TELEGRAM_BOT_TOKEN is not set on this server)";
    return {
      name: "link",
      status: ctx.config.TELEGRAM_BOT_TOKEN ? "ok" : "warn",
      detail: `Telegram chat ${t.telegram_chat_id} linked${bot}.`,
    };
  }
  return {
    name: "link",
    status: "warn",
    detail: "No Telegram chat linked yet.",
    fix: `Send the customer a one-time link (proxystaff link-code ${t.id}), or they send "/start ${t.phone_number}" to your Telegram bot and tap "Share my phone number" (or POST /admin/tenants/${t.id}/link with {"telegram_chat_id": "…"}).`,
  };
}

export async function checkSession(ctx: AppContext, t: Tenant): Promise<ValidationCheck> {
  const session = await getSessionState(ctx.db, t.id);
  if (!session)
    return { name: "session", status: "ok", detail: "No agent session yet (starts with the first message)." };
  const resumes = session.agent_session_id
    ? `resumes agent session ${session.agent_session_id}`
    : "no agent session stored";
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
