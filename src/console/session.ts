import { createHmac, randomBytes } from "node:crypto";
import type { Context } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import type { Config } from "../config.ts";
import { isSameSecret } from "../run-tokens.ts";

/** How long a console session lasts after sign-in. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** A signed-in operator's session, as read back from its cookie. */
export interface ConsoleSession {
  id: string;
  expiresAtMs: number;
  /** The token every form of this session carries (tied to the session id). */
  csrfToken: string;
}

/**
 * Console sessions as signed cookies: `<session id>.<expiry ms>`, HMAC-signed with a key derived from
 * ADMIN_API_KEY (so changing the admin key signs every operator out, and every instance on one database
 * accepts the same cookie). Signing out revokes the id in this process until it would have expired anyway.
 */
export class SessionKeeper {
  readonly cookieName: string;
  private readonly signingKey: Buffer;
  private readonly isSecure: boolean;
  private readonly revoked = new Map<string, number>();

  constructor(
    config: Pick<Config, "ADMIN_API_KEY" | "PUBLIC_URL">,
    private readonly now: () => number,
  ) {
    this.signingKey = createHmac("sha256", config.ADMIN_API_KEY).update("proxystaff console session v1").digest();
    this.isSecure = config.PUBLIC_URL?.startsWith("https://") ?? false;
    // __Host- binds the cookie to this exact host over https (no Domain, path /); browsers refuse it without Secure.
    this.cookieName = this.isSecure ? "__Host-proxystaff_console" : "proxystaff_console";
  }

  /** Starts a new session (a new id on every sign-in) and sets its cookie. */
  async start(c: Context): Promise<ConsoleSession> {
    const id = randomBytes(18).toString("base64url");
    const expiresAtMs = this.now() + SESSION_TTL_MS;
    await setSignedCookie(c, this.cookieName, `${id}.${expiresAtMs}`, this.signingKey, {
      httpOnly: true,
      secure: this.isSecure,
      sameSite: "Strict",
      path: "/",
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    return { id, expiresAtMs, csrfToken: this.csrfTokenFor(id) };
  }

  /** The request's session, or null when there is none, it is forged, expired or signed out. */
  async read(c: Context): Promise<ConsoleSession | null> {
    const value = await getSignedCookie(c, this.signingKey, this.cookieName);
    if (typeof value !== "string") return null;
    const match = /^([A-Za-z0-9_-]{24})\.(\d{1,16})$/.exec(value);
    if (!match) return null;
    const id = match[1] as string;
    const expiresAtMs = Number(match[2]);
    if (expiresAtMs <= this.now() || this.revoked.has(id)) return null;
    return { id, expiresAtMs, csrfToken: this.csrfTokenFor(id) };
  }

  /** Signs out: revokes the session id and clears the cookie. */
  end(c: Context, session: ConsoleSession | null): void {
    if (session) this.revoked.set(session.id, session.expiresAtMs);
    for (const [id, expiresAtMs] of this.revoked) if (expiresAtMs <= this.now()) this.revoked.delete(id);
    deleteCookie(c, this.cookieName, { path: "/", secure: this.isSecure, httpOnly: true, sameSite: "Strict" });
  }

  /** Whether a form's token belongs to this session (constant time). */
  isValidCsrfToken(session: ConsoleSession, presented: unknown): boolean {
    if (typeof presented !== "string") return false;
    return isSameSecret(session.csrfToken, presented);
  }

  private csrfTokenFor(sessionId: string): string {
    return createHmac("sha256", this.signingKey).update(`csrf:${sessionId}`).digest("base64url");
  }
}

/**
 * Failed sign-ins per client address: at most MAX_FAILURES in WINDOW_MS, then refused until the
 * oldest failure leaves the window. A success does not reset it (an attacker with one right guess is done anyway).
 */
export class SignInLimiter {
  static readonly MAX_FAILURES = 5;
  static readonly WINDOW_MS = 15 * 60 * 1000;
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  /** Milliseconds until this address may try again; 0 when it may now. */
  retryAfterMs(address: string): number {
    const recent = this.recent(address);
    if (recent.length < SignInLimiter.MAX_FAILURES) return 0;
    return Math.max(1, (recent[0] as number) + SignInLimiter.WINDOW_MS - this.now());
  }

  recordFailure(address: string): void {
    const recent = this.recent(address);
    recent.push(this.now());
    this.failures.set(address, recent);
    // Bound the memory an address-rotating attacker can make us hold.
    if (this.failures.size > 10_000) {
      for (const key of this.failures.keys()) {
        if (this.recent(key).length === 0) this.failures.delete(key);
      }
    }
  }

  private recent(address: string): number[] {
    const since = this.now() - SignInLimiter.WINDOW_MS;
    const kept = (this.failures.get(address) ?? []).filter((at) => at > since);
    if (kept.length === 0) this.failures.delete(address);
    return kept;
  }
}
