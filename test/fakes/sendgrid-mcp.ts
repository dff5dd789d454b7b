/**
 * A loopback fake of the two SendGrid v3 endpoints the MCP `send_email` tool uses:
 * `POST /v3/mail/send` (202 with an `X-Message-Id`, like SendGrid) and `GET /v3/scopes`.
 * Only the keys in `validKeys` are accepted (401 otherwise, with SendGrid's error body).
 * `failNext(status, body)` scripts one failure. Every request is recorded.
 */
import type { Server } from "bun";

export interface SendgridRequest {
  method: string;
  path: string;
  authorization: string | null;
  body: unknown;
}

export interface FakeSendgrid {
  /** Base URL for SENDGRID_API_BASE, e.g. http://127.0.0.1:12345 */
  url: string;
  requests: SendgridRequest[];
  /** Mails accepted (POST /v3/mail/send answered 202). */
  sent(): SendgridRequest[];
  failNext(status: number, body?: unknown): void;
  stop(): Promise<void>;
}

/** Starts the fake on 127.0.0.1, port 0. */
export function startFakeSendgrid(options: { validKeys: string[] }): FakeSendgrid {
  const requests: SendgridRequest[] = [];
  const accepted: SendgridRequest[] = [];
  let scripted: { status: number; body: unknown } | null = null;
  let counter = 0;
  const server: Server<unknown> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const text = req.method === "POST" ? await req.text() : "";
      const recorded: SendgridRequest = {
        method: req.method,
        path: url.pathname,
        authorization: req.headers.get("authorization"),
        body: text ? safeJson(text) : undefined,
      };
      requests.push(recorded);
      if (scripted) {
        const { status, body } = scripted;
        scripted = null;
        return Response.json(body ?? { errors: [{ message: "scripted failure" }] }, { status });
      }
      const key = /^Bearer (.+)$/.exec(recorded.authorization ?? "")?.[1];
      if (!key || !options.validKeys.includes(key)) {
        return Response.json({ errors: [{ field: null, message: "The provided authorization grant is invalid, expired, or revoked" }] }, { status: 401 });
      }
      if (req.method === "GET" && url.pathname === "/v3/scopes") return Response.json({ scopes: ["mail.send"] });
      if (req.method === "POST" && url.pathname === "/v3/mail/send") {
        accepted.push(recorded);
        return new Response(null, { status: 202, headers: { "x-message-id": `fake-${++counter}` } });
      }
      return Response.json({ errors: [{ message: "not found" }] }, { status: 404 });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    sent: () => accepted,
    failNext(status, body) {
      scripted = { status, body };
    },
    stop: () => server.stop(true),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
