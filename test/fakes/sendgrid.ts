/**
 * A loopback fake of the SendGrid v3 API: `GET /v3/scopes` and `POST /v3/mail/send`, with
 * Bearer-key checks and SendGrid's error shape. Point a tool at it with SENDGRID_API_BASE=url.
 */

/** One request the fake received. */
export interface FakeSendGridRequest {
  method: string;
  path: string;
  authorization: string | null;
  body: unknown;
}

/** A mail the fake accepted (202). */
export interface FakeSentMail {
  messageId: string;
  from: string;
  to: string[];
  subject: string;
  content: { type: string; value: string }[];
  raw: Record<string, unknown>;
}

export interface FakeSendGridOptions {
  /** Keys the fake accepts. Default ["SG.test-key"]. */
  apiKeys?: string[];
  /** What GET /v3/scopes lists. Default ["mail.send", "scopes.read"]. */
  scopes?: string[];
}

export interface FakeSendGrid {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  requests: FakeSendGridRequest[];
  sent: FakeSentMail[];
  /** Answer the next requests with this status and body instead (null: back to normal). */
  failWith(response: { status: number; body: unknown } | null): void;
  stop(): Promise<void>;
}

/** Starts the fake on 127.0.0.1, port 0. */
export function startFakeSendGrid(options: FakeSendGridOptions = {}): FakeSendGrid {
  const keys = new Set(options.apiKeys ?? ["SG.test-key"]);
  const scopes = options.scopes ?? ["mail.send", "scopes.read"];
  const requests: FakeSendGridRequest[] = [];
  const sent: FakeSentMail[] = [];
  let failure: { status: number; body: unknown } | null = null;
  const errors = (status: number, message: string, field?: string) =>
    Response.json({ errors: [{ message, field: field ?? null, help: null }] }, { status });

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const text = req.method === "POST" ? await req.text() : "";
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        return errors(400, "Invalid JSON");
      }
      const authorization = req.headers.get("authorization");
      requests.push({ method: req.method, path, authorization, body });
      if (failure) return Response.json(failure.body, { status: failure.status });
      const key = authorization?.startsWith("Bearer ") ? authorization.slice(7) : "";
      if (!keys.has(key)) return errors(401, "The provided authorization grant is invalid, expired, or revoked");
      if (req.method === "GET" && path === "/v3/scopes") return Response.json({ scopes });
      if (req.method === "POST" && path === "/v3/mail/send") return acceptMail(body);
      return errors(404, "not found");
    },
  });

  function acceptMail(body: unknown): Response {
    const mail = (body ?? {}) as Record<string, unknown>;
    const personalizations = mail.personalizations as { to?: { email?: string }[] }[] | undefined;
    const to = personalizations?.[0]?.to?.map((t) => t.email ?? "") ?? [];
    const from = (mail.from as { email?: string } | undefined)?.email;
    const content = (mail.content as { type: string; value: string }[] | undefined) ?? [];
    if (!to.length || to.some((t) => !t.includes("@")))
      return errors(400, "Does not contain a valid address.", "personalizations.0.to");
    if (!from) return errors(400, "The from object must be provided for every email send.", "from");
    if (typeof mail.subject !== "string" || !mail.subject) return errors(400, "The subject is required.", "subject");
    if (!content.length)
      return errors(400, "Unless a valid template_id is provided, the content parameter is required.", "content");
    const messageId = `fake-${sent.length + 1}`;
    sent.push({ messageId, from, to, subject: mail.subject, content, raw: mail });
    return new Response(null, { status: 202, headers: { "X-Message-Id": messageId } });
  }

  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    sent,
    failWith: (response) => {
      failure = response;
    },
    stop: async () => {
      await server.stop(true);
    },
  };
}
