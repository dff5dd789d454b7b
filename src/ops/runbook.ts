import { z } from "zod";
import type { Config } from "../config.ts";
import type { AppContext } from "../context.ts";
import type { MessageCursor, SessionState } from "../conversation/index.ts";
import { getSessionState, listMessagePage, listMessages } from "../conversation/index.ts";
import type { CredentialSummary, GoogleClient, RotationReport } from "../credentials/index.ts";
import {
  buildConsentUrl,
  exchangeCodeForRefreshToken,
  extractCode,
  googleClientFromConfig,
  listCredentials,
  rotateCredentialsKey,
  setCredentials,
} from "../credentials/index.ts";
import type { MessageRow } from "../db/index.ts";
import { assertOwnedHere } from "../instances/index.ts";
import type { Task, TaskStatus } from "../scheduler/index.ts";
import { cancelTask, listTasks } from "../scheduler/index.ts";
import type {
  NewLinkCode,
  NewTenantInput,
  OnboardingStatus,
  Tenant,
  TenantChannel,
  WorkspaceReport,
} from "../tenants/index.ts";
import {
  createLinkCode,
  createTenant,
  findTenantByPhone,
  getTenant,
  initWorkspace,
  linkCodeStatus,
  linkCodeUrl,
  requireTenant,
  setOnboardingStatus,
  updateTenant,
  workspacePath,
} from "../tenants/index.ts";
import type { Intake } from "./intake.ts";
import { intakeCredentials } from "./intake.ts";

// What the runbook's commands do, as functions that return data; cli/ parses their arguments and prints.
// Tenants: setup-customer, create-tenant, init-tenant, link-code, read-tenant, read-messages, set-status
// (validate-tenant is validation.ts; doctor is doctor.ts). Credentials: google-oauth, rotate-credentials-key.
// Tasks: list-tasks, cancel-task.

/** What setup-customer did with the tenant of the intake's phone number. */
export type IntakeOutcome =
  | { kind: "created"; tenant: Tenant }
  /** A tenant with that phone exists and `update` was not asked for: nothing changed. */
  | { kind: "exists"; tenant: Tenant }
  /** Updated from the intake; `keptChannel` is set when the intake asked for another channel (not supported). */
  | { kind: "updated"; tenant: Tenant; keptChannel: TenantChannel | null };

/**
 * setup-customer's first step: creates the tenant (and its workspace) from the intake, or finds the
 * existing tenant with the same phone number and — with `update` — updates its name, time zone and
 * (when `hasBusiness`) business profile. The channel is never changed. Credentials are stored by
 * storeIntakeCredentials, the next step.
 */
export async function applyIntake(
  ctx: AppContext,
  intake: Intake,
  options: { update?: boolean; hasBusiness?: boolean } = {},
): Promise<IntakeOutcome> {
  const existing = await findTenantByPhone(ctx.db, intake.phone);
  if (existing && !options.update) return { kind: "exists", tenant: existing };
  if (existing) {
    const tenant = await updateTenant(ctx, existing.id, {
      name: intake.name,
      timezone: intake.timezone,
      ...(options.hasBusiness && { business: intake.business }),
    });
    return { kind: "updated", tenant, keptChannel: intake.channel !== existing.channel ? existing.channel : null };
  }
  const { credentials: _stored, ...input } = intake;
  return { kind: "created", tenant: await createTenant(ctx, input) };
}

/** Stores the intake's non-empty credentials in the tenant's vault; returns the keys stored and those left empty. */
export async function storeIntakeCredentials(
  ctx: AppContext,
  tenant: Tenant,
  intake: Pick<Intake, "credentials">,
): Promise<{ stored: string[]; skipped: string[] }> {
  const creds = intakeCredentials(intake);
  const skipped = Object.keys(intake.credentials).filter((k) => !(k in creds));
  if (Object.keys(creds).length > 0) await setCredentials(ctx, tenant.id, creds);
  return { stored: Object.keys(creds), skipped };
}

/** create-tenant: the tenant and its workspace, and the link instructions (with a fresh link code for Telegram). */
export async function createTenantWithLink(
  ctx: AppContext,
  input: NewTenantInput,
): Promise<{ tenant: Tenant; workspace: string; linkInstructions: string }> {
  const tenant = await createTenant(ctx, input);
  return {
    tenant,
    workspace: workspacePath(ctx.config, tenant.id),
    linkInstructions: await linkInstructionsWithCode(ctx, tenant),
  };
}

/** init-tenant: re-copies the template's tools into the tenant's workspace (recreating what is missing); keeps everything else. */
export async function initTenant(ctx: AppContext, tenantId: string): Promise<WorkspaceReport> {
  await assertOwnedHere(ctx, await requireTenant(ctx.db, tenantId));
  return initWorkspace(ctx, tenantId);
}

/**
 * link-code: a new one-time Telegram link code for the tenant (replacing any earlier one), with the bot's
 * name when Telegram tells it (`url` null otherwise). A WhatsApp, linked or archived tenant → ConflictError.
 */
export async function newLinkCode(
  ctx: AppContext,
  tenantId: string,
): Promise<{ tenant: Tenant; code: NewLinkCode; botUsername: string | null; url: string | null }> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const code = await createLinkCode(ctx.db, tenant.id, ctx.clock.now());
  const botUsername = await telegramBotUsername(ctx.config);
  return { tenant, code, botUsername, url: botUsername ? linkCodeUrl(botUsername, code.code) : null };
}

/** How many messages read-tenant shows. */
export const LAST_MESSAGES = 5;

/** Everything read-tenant shows (its --json output, field for field). */
export interface TenantReport {
  tenant: Tenant;
  workspace: string;
  link_code: Awaited<ReturnType<typeof linkCodeStatus>>;
  credentials: CredentialSummary[];
  session: SessionState | null;
  pending_tasks: Task[];
  last_messages: MessageRow[];
}

/** read-tenant: the tenant, its outstanding link code, credentials (masked), session, pending tasks and last messages. */
export async function readTenant(ctx: AppContext, tenantId: string): Promise<TenantReport> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const [credentials, session, tasks, messages, linkCode] = await Promise.all([
    listCredentials(ctx, tenantId),
    getSessionState(ctx.db, tenantId),
    listTasks(ctx.db, { tenantId, status: "PENDING" }),
    listMessages(ctx.db, { tenantId, limit: LAST_MESSAGES }),
    linkCodeStatus(ctx.db, tenantId, ctx.clock.now()),
  ]);
  return {
    tenant,
    workspace: workspacePath(ctx.config, tenantId),
    link_code: linkCode,
    credentials,
    session,
    pending_tasks: tasks,
    last_messages: messages,
  };
}

/** True while the session's lease is held at `now` (an agent run is in progress). */
export function isLeaseHeld(session: SessionState | null, now: number): boolean {
  return session?.lease_expires_at != null && Date.parse(session.lease_expires_at) > now;
}

/**
 * read-messages: one page of messages, newest first, of one tenant (which must exist) or of all;
 * `nextBefore` is the cursor of the next page, null after the last.
 */
export async function readMessages(
  ctx: AppContext,
  options: { tenantId?: string; limit: number; before?: MessageCursor },
): Promise<{ messages: MessageRow[]; nextBefore: string | null }> {
  if (options.tenantId) await requireTenant(ctx.db, options.tenantId);
  return listMessagePage(ctx.db, options);
}

/** The tenants of these ids (null and unknown ids left out), for naming a page's rows. */
export async function tenantsOf(ctx: AppContext, ids: (string | null)[]): Promise<Map<string, Tenant>> {
  const tenants = new Map<string, Tenant>();
  for (const id of new Set(ids)) {
    if (!id) continue;
    const tenant = await getTenant(ctx.db, id);
    if (tenant) tenants.set(id, tenant);
  }
  return tenants;
}

/** set-status: moves the tenant to `status` as the operator (re-rendering CLAUDE.md); returns it before and after. */
export async function setTenantStatus(
  ctx: AppContext,
  tenantId: string,
  status: OnboardingStatus,
): Promise<{ before: Tenant; after: Tenant }> {
  const before = await requireTenant(ctx.db, tenantId);
  const after = await setOnboardingStatus(ctx, tenantId, status, { by: "operator" });
  return { before, after };
}

/** google-oauth, step 1: the tenant, the Google client (GOOGLE_CLIENT_ID/SECRET, else an error) and the consent URL the customer opens. */
export async function startGmailConsent(
  ctx: AppContext,
  tenantId: string,
  options: { redirectUri: string; scope?: string },
): Promise<{ tenant: Tenant; client: GoogleClient; consentUrl: string }> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const client = googleClientFromConfig(ctx.config);
  const consentUrl = buildConsentUrl(client.clientId, {
    redirectUri: options.redirectUri,
    scope: options.scope,
    state: tenant.id,
  });
  return { tenant, client, consentUrl };
}

/**
 * google-oauth, step 2: exchanges the code (or the whole address Google redirected to) for a refresh
 * token and stores it in the tenant's vault as GMAIL_REFRESH_TOKEN. The token is never returned.
 */
export async function storeGmailRefreshToken(
  ctx: AppContext,
  tenant: Tenant,
  client: GoogleClient,
  input: string,
  redirectUri: string,
): Promise<void> {
  const { refreshToken } = await exchangeCodeForRefreshToken(client, extractCode(input), { redirectUri });
  await setCredentials(ctx, tenant.id, { GMAIL_REFRESH_TOKEN: refreshToken });
  ctx.log.info("gmail refresh token stored", { tenantId: tenant.id });
}

/** rotate-credentials-key: re-encrypts every credential not sealed with the current CREDENTIALS_KEY; counts and failures (never a value). */
export async function rotateVaultKey(ctx: AppContext): Promise<RotationReport> {
  return rotateCredentialsKey(ctx);
}

/** list-tasks: scheduled tasks, soonest next run first, of every tenant or of one (which must exist). */
export async function listScheduledTasks(
  ctx: AppContext,
  filter: { tenantId?: string; status?: TaskStatus; limit?: number },
): Promise<Task[]> {
  if (filter.tenantId) await requireTenant(ctx.db, filter.tenantId);
  return listTasks(ctx.db, filter);
}

/** cancel-task: cancels a PENDING or RUNNING task (with `tenantId`, only that tenant's); a DONE or FAILED one → ConflictError. */
export async function cancelScheduledTask(
  ctx: AppContext,
  taskId: string,
  scope: { tenantId?: string } = {},
): Promise<Task> {
  return cancelTask(ctx, taskId, scope);
}

/**
 * What the customer must do so their chat reaches their agent. `botUsername` (from telegramBotUsername)
 * names the bot: "to @name (https://t.me/name)"; without it, "to your Telegram bot". With `linkCode`
 * (a Telegram tenant with no chat yet), the one-time deep link comes first.
 */
export function linkInstructions(
  tenant: Tenant,
  config: Pick<Config, "TWILIO_WHATSAPP_FROM">,
  botUsername?: string | null,
  linkCode?: NewLinkCode | null,
): string {
  if (tenant.channel === "telegram") {
    if (tenant.telegram_chat_id) return `Telegram chat ${tenant.telegram_chat_id} is linked.`;
    const bot = botUsername ? `@${botUsername} (https://t.me/${botUsername})` : "your Telegram bot";
    const byPhone = `ask the customer to send "/start ${tenant.phone_number}" to ${bot} and tap "Share my phone number" (their Telegram account must use that number).`;
    if (!linkCode) return `To link: ${byPhone}`;
    const link = botUsername
      ? `this link: ${linkCodeUrl(botUsername, linkCode.code)}`
      : `"/start ${linkCode.code}" to your Telegram bot`;
    return [
      `To link: send the customer ${link}`,
      `  (one-time, valid until ${linkCode.expires_at}; only shown now — a new one replaces it: proxystaff link-code ${tenant.id}).`,
      `  Or ${byPhone}`,
    ].join("\n");
  }
  const to = config.TWILIO_WHATSAPP_FROM
    ? ` to ${config.TWILIO_WHATSAPP_FROM.replace(/^whatsapp:/, "")}`
    : " to your WhatsApp number";
  return `To link: ask the customer to send any WhatsApp message from ${tenant.phone_number}${to}; it links automatically.`;
}

/**
 * The link instructions as setup-customer and create-tenant print them: for a Telegram tenant with
 * no chat, a fresh one-time link code is made (replacing any earlier one) and the bot is named.
 */
export async function linkInstructionsWithCode(ctx: AppContext, tenant: Tenant): Promise<string> {
  if (!needsBotName(tenant) || tenant.status !== "ACTIVE") return linkInstructions(tenant, ctx.config);
  const [botUsername, code] = await Promise.all([
    telegramBotUsername(ctx.config),
    createLinkCode(ctx.db, tenant.id, ctx.clock.now()),
  ]);
  return linkInstructions(tenant, ctx.config, botUsername, code);
}

/** True when the link instructions would name the Telegram bot (a Telegram tenant with no chat yet). */
export function needsBotName(tenant: Tenant): boolean {
  return tenant.channel === "telegram" && !tenant.telegram_chat_id;
}

/** How long the link instructions wait for Telegram's getMe before falling back to "your Telegram bot". */
export const GET_ME_TIMEOUT_MS = 3000;

const getMeAnswer = z.object({ ok: z.literal(true), result: z.object({ username: z.string().min(1) }) });

/**
 * The bot's @username from Telegram's getMe (through TELEGRAM_API_ROOT), so the link instructions can
 * name the bot the customer must write to. Null when no TELEGRAM_BOT_TOKEN is set, or Telegram does not
 * answer well within the time limit: the caller then says "your Telegram bot". Never logs or throws
 * (the token is part of the URL, so not even an error message leaves this function).
 */
export async function telegramBotUsername(
  config: Pick<Config, "TELEGRAM_BOT_TOKEN" | "TELEGRAM_API_ROOT">,
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<string | null> {
  if (!config.TELEGRAM_BOT_TOKEN) return null;
  const url = `${config.TELEGRAM_API_ROOT.replace(/\/+$/, "")}/bot${config.TELEGRAM_BOT_TOKEN}/getMe`;
  try {
    const response = await (options.fetch ?? fetch)(url, {
      signal: AbortSignal.timeout(options.timeoutMs ?? GET_ME_TIMEOUT_MS),
    });
    const parsed = getMeAnswer.safeParse(await response.json());
    return parsed.success ? parsed.data.result.username : null;
  } catch {
    return null; // unreachable, slow or not JSON: the generic wording is still correct
  }
}
