import type { AppContext } from "../../context.ts";
import { createToolBackends } from "./real-backends.ts";
import { EMAIL_CREDENTIALS } from "./email-tool.ts";
import { checkSendgridKey } from "./sendgrid.ts";

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
export async function checkToolsHealth(ctx: AppContext, tenantId: string, options: ToolsHealthOptions = {}): Promise<ToolHealth[]> {
  const backends = createToolBackends(ctx);
  const apiKey = await backends.getCredential(tenantId, EMAIL_CREDENTIALS.apiKey);
  if (!apiKey) {
    return [{ tool: "send_email", status: "not_configured", detail: `${EMAIL_CREDENTIALS.apiKey} is not set for this tenant.` }];
  }
  const tenant = await backends.findTenant(tenantId);
  const fromEmail = (await backends.getCredential(tenantId, EMAIL_CREDENTIALS.fromEmail)) ?? tenant?.business.email ?? null;
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
