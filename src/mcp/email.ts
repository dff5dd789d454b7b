import { z } from "zod";
import type { AppContext } from "../context.ts";
import { redact } from "../log.ts";
import type { SendgridClientOptions, ToolEnv } from "./tool-kit.ts";
import { createToolBackends, defineTool, excerpt, ToolFailure } from "./tool-kit.ts";

/** Vault keys the email tool reads server-side. */
export const EMAIL_CREDENTIALS = {
  apiKey: "SENDGRID_API_KEY",
  fromEmail: "SENDGRID_FROM_EMAIL",
  fromName: "SENDGRID_FROM_NAME",
} as const;

const email = z.email("must be an email address");
const recipients = z.union([
  email,
  z.array(email).min(1, "give at least one recipient").max(20, "at most 20 recipients"),
]);

export const sendEmailTool = defineTool({
  name: "send_email",
  title: "Send an email",
  maxCallsPerRun: 25,
  description:
    "Send an email on the business's behalf through its SendGrid account (the key stays on the server; you never " +
    'need it). From: the business\'s sender address. Give `text`, `html` or both. Example: {"to":"supplier@example.com",' +
    '"subject":"Order for Friday","text":"Hello, …"}.',
  inputSchema: {
    to: recipients.describe("Recipient address, or a list of up to 20."),
    cc: z.array(email).max(20).optional().describe("Copy recipients."),
    reply_to: email.optional().describe("Where replies should go; default the sender."),
    subject: z.string().trim().min(1, "subject must not be empty").max(998, "subject must be at most 998 characters"),
    text: z.string().min(1).max(100_000).optional().describe("Plain-text body."),
    html: z.string().min(1).max(200_000).optional().describe("HTML body."),
  },
  async run(input, env) {
    if (input.text === undefined && input.html === undefined)
      throw new ToolFailure("Give the email a body: text, html or both.");
    const apiKey = await env.backends.getCredential(env.caller.tenantId, EMAIL_CREDENTIALS.apiKey);
    if (!apiKey) {
      throw new ToolFailure(
        "Email is not set up for this business: its SendGrid API key (SENDGRID_API_KEY) is missing. Ask the owner for a " +
          "SendGrid API key with Mail Send permission and ask the operator to add it as a credential; then try again.",
      );
    }
    env.redact(apiKey);
    const from = await senderOf(env);
    const to = typeof input.to === "string" ? [input.to] : input.to;
    const outcome = await sendEmail(env.sendgrid, apiKey, {
      from,
      to,
      ...(input.cc ? { cc: input.cc } : {}),
      ...(input.reply_to ? { replyTo: input.reply_to } : {}),
      subject: input.subject,
      ...(input.text !== undefined ? { text: input.text } : {}),
      ...(input.html !== undefined ? { html: input.html } : {}),
    });
    if (!outcome.ok) throw new ToolFailure(explainFailure(outcome.status, outcome.reason));
    return {
      text: `Email sent to ${to.join(", ")} from ${from.email} (subject "${input.subject}").`,
      timeline: `sent email to ${to.join(", ")}: "${excerpt(input.subject)}"`,
      fields: { recipients: to.length, status: outcome.status, messageId: outcome.messageId },
    };
  },
});

/** From: SENDGRID_FROM_EMAIL, else the profile's email; the name: SENDGRID_FROM_NAME, else the business name. */
async function senderOf(env: ToolEnv): Promise<{ email: string; name: string }> {
  const configured = await env.backends.getCredential(env.caller.tenantId, EMAIL_CREDENTIALS.fromEmail);
  const address = configured ?? env.tenant.business.email ?? null;
  if (!address || !email.safeParse(address).success) {
    throw new ToolFailure(
      "No sender address for this business's email: ask the operator to add SENDGRID_FROM_EMAIL (a sender verified in " +
        "SendGrid) as a credential, or save the business's email with update_business_profile if the owner gives it.",
    );
  }
  const name = (await env.backends.getCredential(env.caller.tenantId, EMAIL_CREDENTIALS.fromName)) ?? env.tenant.name;
  return { email: address, name };
}

function explainFailure(status: number | null, reason: string): string {
  if (status === 401 || status === 403) {
    return `SendGrid refused this business's API key (HTTP ${status}: ${reason}). Ask the operator to check SENDGRID_API_KEY and its Mail Send permission.`;
  }
  if (status === 429) return "SendGrid is rate-limiting this account; nothing was sent. Try again in a few minutes.";
  if (status === null || status >= 500) return `Nothing was sent: ${reason}. Try again later.`;
  return `SendGrid rejected the email (HTTP ${status}): ${reason}. Nothing was sent.`;
}

/** One email as the tool sends it. */
export interface EmailMessage {
  from: { email: string; name?: string };
  to: string[];
  cc?: string[];
  replyTo?: string;
  subject: string;
  text?: string;
  html?: string;
}

/** Sent, or why not; `retryable` separates "SendGrid said no" from "we could not reach SendGrid". */
export type SendgridOutcome =
  | { ok: true; status: number; messageId: string | null }
  | { ok: false; status: number | null; retryable: boolean; reason: string };

const DEFAULT_TIMEOUT_MS = 15_000;

/** POST /v3/mail/send with the tenant's key. The key goes in the header only and never into the outcome. */
export async function sendEmail(
  options: SendgridClientOptions,
  apiKey: string,
  message: EmailMessage,
): Promise<SendgridOutcome> {
  const content = [
    ...(message.text !== undefined ? [{ type: "text/plain", value: message.text }] : []),
    ...(message.html !== undefined ? [{ type: "text/html", value: message.html }] : []),
  ];
  const body = {
    personalizations: [
      {
        to: message.to.map((email) => ({ email })),
        ...(message.cc?.length ? { cc: message.cc.map((email) => ({ email })) } : {}),
      },
    ],
    from: message.from,
    ...(message.replyTo ? { reply_to: { email: message.replyTo } } : {}),
    subject: message.subject,
    content,
  };
  const response = await request(options, apiKey, "/v3/mail/send", { method: "POST", body: JSON.stringify(body) });
  if (!("status" in response)) return response.failure;
  if (response.status >= 200 && response.status < 300) {
    return { ok: true, status: response.status, messageId: response.headers.get("x-message-id") };
  }
  const detail = redact(await errorDetail(response), [apiKey]);
  return {
    ok: false,
    status: response.status,
    retryable: response.status === 429 || response.status >= 500,
    reason: detail,
  };
}

/** GET /v3/scopes: is the key accepted and is SendGrid reachable? (health check; sends nothing). */
export async function checkSendgridKey(options: SendgridClientOptions, apiKey: string): Promise<SendgridOutcome> {
  const response = await request(options, apiKey, "/v3/scopes", { method: "GET" });
  if (!("status" in response)) return response.failure;
  if (response.ok) return { ok: true, status: response.status, messageId: null };
  const detail = redact(await errorDetail(response), [apiKey]);
  return {
    ok: false,
    status: response.status,
    retryable: response.status === 429 || response.status >= 500,
    reason: detail,
  };
}

async function request(
  options: SendgridClientOptions,
  apiKey: string,
  path: string,
  init: { method: string; body?: string },
): Promise<Response | { failure: SendgridOutcome }> {
  const doFetch = options.fetch ?? fetch;
  try {
    return await doFetch(`${options.baseUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", accept: "application/json" },
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    const reason = timedOut
      ? "SendGrid did not answer in time"
      : `SendGrid could not be reached (${err instanceof Error ? err.name : "error"})`;
    return { failure: { ok: false, status: null, retryable: true, reason } };
  }
}

/** SendGrid answers errors as {"errors":[{"message","field"}]}; anything else is summarised by status. */
async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const parsed: unknown = JSON.parse(text);
    const errors = (parsed as { errors?: { message?: unknown; field?: unknown }[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      return errors
        .slice(0, 5)
        .map((e) =>
          [typeof e.field === "string" ? `${e.field}: ` : "", typeof e.message === "string" ? e.message : "error"].join(
            "",
          ),
        )
        .join("; ")
        .slice(0, 500);
    }
  } catch {
    // not JSON: fall through to the status text
  }
  return `HTTP ${response.status}`;
}

/** One server-side tool's readiness for one tenant. */
export interface ToolHealth {
  tool: string;
  /** ok = usable; not_configured = a credential is missing; failing = configured but refused or unreachable. */
  status: "ok" | "not_configured" | "failing";
  /** What an operator should know or do; never a secret. */
  detail: string;
}

export interface ToolsHealthOptions {
  fetch?: typeof fetch;
  /** Time limit of one check request. Default 10 000 ms. */
  timeoutMs?: number;
}

/**
 * Checks the MCP tools that need a tenant's secret (today: send_email). send_email is ok when
 * SENDGRID_API_KEY is set, a sender address exists and SendGrid accepts the key (GET /v3/scopes,
 * which sends nothing). The other tools need no credential and are not listed.
 */
export async function checkToolsHealth(
  ctx: AppContext,
  tenantId: string,
  options: ToolsHealthOptions = {},
): Promise<ToolHealth[]> {
  const backends = createToolBackends(ctx);
  const apiKey = await backends.getCredential(tenantId, EMAIL_CREDENTIALS.apiKey);
  if (!apiKey) {
    return [
      {
        tool: "send_email",
        status: "not_configured",
        detail: `${EMAIL_CREDENTIALS.apiKey} is not set for this tenant.`,
      },
    ];
  }
  const tenant = await backends.findTenant(tenantId);
  const fromEmail =
    (await backends.getCredential(tenantId, EMAIL_CREDENTIALS.fromEmail)) ?? tenant?.business.email ?? null;
  const outcome = await checkSendgridKey(
    { baseUrl: ctx.config.SENDGRID_API_BASE, fetch: options.fetch, timeoutMs: options.timeoutMs ?? 10_000 },
    apiKey,
  );
  if (!outcome.ok) {
    // An unreachable API is named by its URL (a setting, not a secret), so a wrong SENDGRID_API_BASE shows.
    const why =
      outcome.status === 401 || outcome.status === 403
        ? `SendGrid refused the key (HTTP ${outcome.status})`
        : outcome.status === null
          ? `${outcome.reason} at ${ctx.config.SENDGRID_API_BASE}`
          : outcome.reason;
    return [{ tool: "send_email", status: "failing", detail: `${why}.` }];
  }
  if (!fromEmail) {
    return [
      {
        tool: "send_email",
        status: "not_configured",
        detail: `SendGrid accepts the key, but there is no sender: set ${EMAIL_CREDENTIALS.fromEmail} or the business profile's email.`,
      },
    ];
  }
  return [{ tool: "send_email", status: "ok", detail: `SendGrid accepts the key; mail goes out from ${fromEmail}.` }];
}
