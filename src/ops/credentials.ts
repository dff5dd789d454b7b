import type { AppContext } from "../context.ts";
import { buildConsentUrl, exchangeCodeForRefreshToken, extractCode, googleClientFromConfig, rotateCredentialsKey, setCredentials } from "../credentials/index.ts";
import type { GoogleClient, RotationReport } from "../credentials/index.ts";
import { requireTenant } from "../tenants/index.ts";
import type { Tenant } from "../tenants/index.ts";

// What the runbook's credentials commands do (google-oauth, rotate-credentials-key); cli/ parses and prints.

/** google-oauth, step 1: the tenant, the Google client (GOOGLE_CLIENT_ID/SECRET, else an error) and the consent URL the customer opens. */
export async function startGmailConsent(
  ctx: AppContext,
  tenantId: string,
  options: { redirectUri: string; scope?: string },
): Promise<{ tenant: Tenant; client: GoogleClient; consentUrl: string }> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const client = googleClientFromConfig(ctx.config);
  const consentUrl = buildConsentUrl(client.clientId, { redirectUri: options.redirectUri, scope: options.scope, state: tenant.id });
  return { tenant, client, consentUrl };
}

/**
 * google-oauth, step 2: exchanges the code (or the whole address Google redirected to) for a refresh
 * token and stores it in the tenant's vault as GMAIL_REFRESH_TOKEN. The token is never returned.
 */
export async function storeGmailRefreshToken(ctx: AppContext, tenant: Tenant, client: GoogleClient, input: string, redirectUri: string): Promise<void> {
  const { refreshToken } = await exchangeCodeForRefreshToken(client, extractCode(input), { redirectUri });
  await setCredentials(ctx, tenant.id, { GMAIL_REFRESH_TOKEN: refreshToken });
  ctx.log.info("gmail refresh token stored", { tenantId: tenant.id });
}

/** rotate-credentials-key: re-encrypts every credential not sealed with the current CREDENTIALS_KEY; counts and failures (never a value). */
export async function rotateVaultKey(ctx: AppContext): Promise<RotationReport> {
  return rotateCredentialsKey(ctx);
}
