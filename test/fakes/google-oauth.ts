import type { Server } from "bun";

/** One request the fake token endpoint received (form fields). */
export interface TokenRequest {
  path: string;
  contentType: string | null;
  form: Record<string, string>;
}

export interface FakeGoogleOAuthOptions {
  clientId?: string;
  clientSecret?: string;
  /** The codes the fake accepts (each once, like Google). Default ["good-code"]. */
  validCodes?: string[];
  /** The refresh token handed out. */
  refreshToken?: string;
  /** Answer without a refresh_token (as Google does when the user granted access before). */
  omitRefreshToken?: boolean;
}

/** A loopback fake of Google's OAuth token endpoint (`POST /token`, authorization_code grant). */
export interface FakeGoogleOAuth {
  /** http://127.0.0.1:<port>/token — set GOOGLE_TOKEN_URL to this. */
  tokenUrl: string;
  requests: TokenRequest[];
  stop(): Promise<void>;
}

export function startFakeGoogleOAuth(options: FakeGoogleOAuthOptions = {}): FakeGoogleOAuth {
  const clientId = options.clientId ?? "fake-client-id.apps.googleusercontent.com";
  const clientSecret = options.clientSecret ?? "fake-client-secret-123";
  const unused = new Set(options.validCodes ?? ["good-code"]);
  const requests: TokenRequest[] = [];
  const server: Server<unknown> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/token") return new Response("not found", { status: 404 });
      const form = Object.fromEntries(new URLSearchParams(await req.text()));
      requests.push({ path: url.pathname, contentType: req.headers.get("content-type"), form });
      if (form.client_id !== clientId || form.client_secret !== clientSecret) {
        return Response.json(
          { error: "invalid_client", error_description: "The OAuth client was not found." },
          { status: 401 },
        );
      }
      if (form.grant_type !== "authorization_code" || !form.redirect_uri) {
        return Response.json(
          { error: "invalid_request", error_description: "Missing grant_type or redirect_uri" },
          { status: 400 },
        );
      }
      if (!form.code || !unused.has(form.code)) {
        return Response.json({ error: "invalid_grant", error_description: "Bad Request" }, { status: 400 });
      }
      unused.delete(form.code);
      return Response.json({
        access_token: "ya29.fake-access-token",
        expires_in: 3599,
        ...(options.omitRefreshToken ? {} : { refresh_token: options.refreshToken ?? "1//fake-refresh-token-abcdef" }),
        scope: "https://www.googleapis.com/auth/gmail.modify",
        token_type: "Bearer",
      });
    },
  });
  return {
    tokenUrl: `http://127.0.0.1:${server.port}/token`,
    requests,
    stop: () => server.stop(true),
  };
}
