import { z } from "zod";
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";

/** Google's consent page for installed (desktop) apps. */
export const GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth";
/** Gmail access that covers reading, labelling and sending mail. */
export const DEFAULT_GMAIL_SCOPE = "https://www.googleapis.com/auth/gmail.modify";
/**
 * Where Google sends the browser after consent. Nothing needs to listen there: the page fails
 * to load, and the operator copies the `code` (or the whole address) from the address bar.
 */
export const DEFAULT_REDIRECT_URI = "http://localhost";

/** The OAuth client the platform uses (a "Desktop app" client from the Google Cloud console). */
export interface GoogleClient {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
}

/** The configured client, or an AppError `google_oauth_not_configured` naming what is missing. */
export function googleClientFromConfig(
  config: Pick<Config, "GOOGLE_CLIENT_ID" | "GOOGLE_CLIENT_SECRET" | "GOOGLE_TOKEN_URL">,
): GoogleClient {
  const missing = (["GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"] as const).filter((k) => !config[k]);
  if (missing.length > 0 || !config.GOOGLE_CLIENT_ID || !config.GOOGLE_CLIENT_SECRET) {
    throw new AppError(
      "google_oauth_not_configured",
      `Set ${missing.join(" and ")} (an OAuth client of type "Desktop app" from the Google Cloud console) to run the Gmail OAuth flow.`,
    );
  }
  return {
    clientId: config.GOOGLE_CLIENT_ID,
    clientSecret: config.GOOGLE_CLIENT_SECRET,
    tokenUrl: config.GOOGLE_TOKEN_URL,
  };
}

/** The consent URL: offline access with a forced consent prompt, so Google returns a refresh token. */
export function buildConsentUrl(
  clientId: string,
  options: { redirectUri?: string; scope?: string; state?: string } = {},
): string {
  const url = new URL(GOOGLE_AUTH_URL);
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("redirect_uri", options.redirectUri ?? DEFAULT_REDIRECT_URI);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", options.scope ?? DEFAULT_GMAIL_SCOPE);
  url.searchParams.set("access_type", "offline");
  url.searchParams.set("prompt", "consent");
  if (options.state) url.searchParams.set("state", options.state);
  return url.toString();
}

/** Accepts the bare code or the whole redirected address (`http://localhost/?code=…&scope=…`). */
export function extractCode(input: string): string {
  const text = input.trim();
  if (/^https?:\/\//i.test(text)) {
    const url = new URL(text);
    const error = url.searchParams.get("error");
    if (error) throw new AppError("google_oauth_denied", `Google did not grant access: ${error}.`);
    const code = url.searchParams.get("code");
    if (!code)
      throw new AppError(
        "google_oauth_no_code",
        "That address has no ?code= parameter; copy the address Google redirected to.",
      );
    return code;
  }
  if (!/^[\w./~+-]{4,2048}$/.test(text))
    throw new AppError("google_oauth_no_code", "That does not look like an authorization code.");
  return text;
}

const tokenResponse = z.object({
  access_token: z.string().optional(),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.number().optional(),
  scope: z.string().optional(),
  token_type: z.string().optional(),
});

const tokenError = z.object({ error: z.string(), error_description: z.string().optional() });

/**
 * Exchanges the authorization code at the token endpoint and returns the refresh token.
 * Google's error (e.g. invalid_grant) is reported by its code and description; neither the
 * code nor the client secret ever appears in an error.
 */
export async function exchangeCodeForRefreshToken(
  client: GoogleClient,
  code: string,
  options: { redirectUri?: string; fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<{ refreshToken: string; scope?: string }> {
  const body = new URLSearchParams({
    code,
    client_id: client.clientId,
    client_secret: client.clientSecret,
    redirect_uri: options.redirectUri ?? DEFAULT_REDIRECT_URI,
    grant_type: "authorization_code",
  });
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(client.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw new AppError(
      "google_oauth_unreachable",
      `Could not reach ${client.tokenUrl}: ${(err as Error).message}`,
      502,
      { cause: err },
    );
  }
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const parsed = tokenError.safeParse(json);
    const why = parsed.success
      ? `${parsed.data.error}${parsed.data.error_description ? ` (${parsed.data.error_description})` : ""}`
      : `HTTP ${res.status}`;
    const hint =
      parsed.success && parsed.data.error === "invalid_grant"
        ? " The code is wrong, expired or already used: open the consent URL again."
        : "";
    throw new AppError("google_oauth_failed", `Google refused the code: ${why}.${hint}`, 502);
  }
  const parsed = tokenResponse.safeParse(json);
  if (!parsed.success)
    throw new AppError(
      "google_oauth_failed",
      "Google's token endpoint answered with something that is not a token response.",
      502,
    );
  if (!parsed.data.refresh_token) {
    throw new AppError(
      "google_oauth_no_refresh_token",
      "Google returned no refresh token. Remove this app's access at https://myaccount.google.com/permissions and run the flow again.",
      502,
    );
  }
  return { refreshToken: parsed.data.refresh_token, scope: parsed.data.scope };
}
