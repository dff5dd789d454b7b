/** How to reach SendGrid's v3 API (the base is SENDGRID_API_BASE; tests aim it at a loopback fake). */
export interface SendgridClientOptions {
  /** e.g. https://api.sendgrid.com (no trailing slash). */
  baseUrl: string;
  fetch?: typeof fetch;
  /** Time limit of one request. Default 15 000 ms. */
  timeoutMs?: number;
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
export async function sendEmail(options: SendgridClientOptions, apiKey: string, message: EmailMessage): Promise<SendgridOutcome> {
  const content = [
    ...(message.text !== undefined ? [{ type: "text/plain", value: message.text }] : []),
    ...(message.html !== undefined ? [{ type: "text/html", value: message.html }] : []),
  ];
  const body = {
    personalizations: [
      { to: message.to.map((email) => ({ email })), ...(message.cc?.length ? { cc: message.cc.map((email) => ({ email })) } : {}) },
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
  const detail = scrub(await errorDetail(response), apiKey);
  return { ok: false, status: response.status, retryable: response.status === 429 || response.status >= 500, reason: detail };
}

/** GET /v3/scopes: is the key accepted and is SendGrid reachable? (health check; sends nothing). */
export async function checkSendgridKey(options: SendgridClientOptions, apiKey: string): Promise<SendgridOutcome> {
  const response = await request(options, apiKey, "/v3/scopes", { method: "GET" });
  if (!("status" in response)) return response.failure;
  if (response.ok) return { ok: true, status: response.status, messageId: null };
  const detail = scrub(await errorDetail(response), apiKey);
  return { ok: false, status: response.status, retryable: response.status === 429 || response.status >= 500, reason: detail };
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
    const reason = timedOut ? "SendGrid did not answer in time" : `SendGrid could not be reached (${err instanceof Error ? err.name : "error"})`;
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
        .map((e) => [typeof e.field === "string" ? `${e.field}: ` : "", typeof e.message === "string" ? e.message : "error"].join(""))
        .join("; ")
        .slice(0, 500);
    }
  } catch {
    // not JSON: fall through to the status text
  }
  return `HTTP ${response.status}`;
}

function scrub(text: string, secret: string): string {
  return secret ? text.split(secret).join("[redacted]") : text;
}
