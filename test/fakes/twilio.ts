/**
 * A loopback fake of Twilio's Messages API (127.0.0.1, port 0): records messages.create calls and
 * answers like Twilio; fails the next calls on request; serves media files behind the account's basic
 * auth; and signs inbound WhatsApp webhooks the way Twilio does.
 */
import twilio from "twilio";
import { serveLoopback } from "./loopback.ts";

export type FakeTwilioFailure = "429" | "500" | "63016" | "21211" | "hang";

/** One message the platform sent through the fake (successful ones only). */
export interface FakeTwilioSent {
  sid: string;
  from: string;
  to: string;
  body: string;
  accountSid: string;
}

export interface FakeTwilio {
  /** Base URL to use as TWILIO_API_BASE. */
  url: string;
  accountSid: string;
  authToken: string;
  sent: FakeTwilioSent[];
  /** Every POST to Messages.json, failed ones included. */
  attempts: number;
  /** Media requests and whether their basic auth was right. */
  mediaRequests: { path: string; authorized: boolean }[];
  failNext(kind: FakeTwilioFailure, n?: number): void;
  /** Stores a media file; returns its MediaUrl (fetching it needs the account's basic auth). */
  addMedia(content: Uint8Array | string, contentType: string): string;
  stop(): Promise<void>;
}

export const FAKE_TWILIO_SID = `AC${"0123456789abcdef".repeat(2)}`;
export const FAKE_TWILIO_TOKEN = "fake-twilio-auth-token-123";

export function startFakeTwilio(options: { accountSid?: string; authToken?: string } = {}): FakeTwilio {
  const accountSid = options.accountSid ?? FAKE_TWILIO_SID;
  const authToken = options.authToken ?? FAKE_TWILIO_TOKEN;
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;
  const failures: FakeTwilioFailure[] = [];
  const media = new Map<string, { content: Uint8Array; contentType: string }>();
  let counter = 0;

  const twilioError = (status: number, code: number, message: string) =>
    Response.json({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, { status });

  async function createMessage(req: Request): Promise<Response> {
    fake.attempts++;
    if (req.headers.get("authorization") !== expectedAuth) return twilioError(401, 20003, "Authenticate");
    const failure = failures.shift();
    if (failure === "hang") {
      await new Promise<void>((resolve) => {
        loopback.hanging.add(resolve);
        req.signal.addEventListener("abort", () => resolve());
      });
      return twilioError(500, 20500, "Internal Server Error");
    }
    if (failure === "429") return twilioError(429, 20429, "Too Many Requests");
    if (failure === "500") return twilioError(500, 20500, "Internal Server Error");
    if (failure === "63016")
      return twilioError(400, 63016, "Failed to send freeform message because you are outside the allowed window.");
    if (failure === "21211") return twilioError(400, 21211, "The 'To' number is not a valid phone number.");
    const form = await req.formData();
    const value = (key: string) => {
      const v = form.get(key);
      return typeof v === "string" ? v : "";
    };
    const sid = `SM${(++counter).toString(16).padStart(32, "0")}`;
    const message = { sid, from: value("From"), to: value("To"), body: value("Body"), accountSid };
    fake.sent.push(message);
    const now = new Date().toUTCString();
    return Response.json(
      {
        sid,
        account_sid: accountSid,
        from: message.from,
        to: message.to,
        body: message.body,
        status: "queued",
        num_segments: "1",
        num_media: "0",
        direction: "outbound-api",
        api_version: "2010-04-01",
        date_created: now,
        date_updated: now,
        date_sent: null,
        price: null,
        error_code: null,
        error_message: null,
        uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
        subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
      },
      { status: 201 },
    );
  }

  const loopback = serveLoopback(async (req) => {
    const url = new URL(req.url);
    if (req.method === "POST" && url.pathname === `/2010-04-01/Accounts/${accountSid}/Messages.json`)
      return createMessage(req);
    const file = media.get(url.pathname);
    if (req.method === "GET" && file) {
      const authorized = req.headers.get("authorization") === expectedAuth;
      fake.mediaRequests.push({ path: url.pathname, authorized });
      if (!authorized) return twilioError(401, 20003, "Authenticate");
      return new Response(file.content, { headers: { "content-type": file.contentType } });
    }
    return twilioError(404, 20404, `The requested resource ${url.pathname} was not found`);
  });

  const fake: FakeTwilio = {
    url: loopback.url,
    accountSid,
    authToken,
    sent: [],
    attempts: 0,
    mediaRequests: [],
    failNext(kind, n = 1) {
      for (let i = 0; i < n; i++) failures.push(kind);
    },
    addMedia(content, contentType) {
      counter++;
      const path = `/2010-04-01/Accounts/${accountSid}/Messages/MM${counter}/Media/ME${counter}`;
      media.set(path, {
        content: typeof content === "string" ? new TextEncoder().encode(content) : content,
        contentType,
      });
      return `${fake.url}${path}`;
    },
    stop: () => loopback.stop(),
  };
  return fake;
}

/** The form fields of an inbound WhatsApp message, as Twilio posts them. */
export function whatsappInboundParams(input: {
  from: string;
  body?: string;
  messageSid?: string;
  profileName?: string;
  to?: string;
  media?: { url: string; contentType: string }[];
  accountSid?: string;
}): Record<string, string> {
  const params: Record<string, string> = {
    MessageSid: input.messageSid ?? `SM${crypto.randomUUID().replace(/-/g, "")}`,
    AccountSid: input.accountSid ?? FAKE_TWILIO_SID,
    From: `whatsapp:${input.from}`,
    To: input.to ?? "whatsapp:+14155238886",
    Body: input.body ?? "",
    NumMedia: String(input.media?.length ?? 0),
  };
  if (input.profileName) params.ProfileName = input.profileName;
  input.media?.forEach((m, i) => {
    params[`MediaUrl${i}`] = m.url;
    params[`MediaContentType${i}`] = m.contentType;
  });
  return params;
}

/**
 * Builds the request Twilio would POST: form-encoded params signed over `signedUrl` (PUBLIC_URL + path).
 * `signature: null` leaves the header out; a string overrides it.
 */
export function signedWhatsAppRequest(
  postUrl: string,
  signedUrl: string,
  params: Record<string, string>,
  options: { authToken?: string; signature?: string | null } = {},
): Request {
  const signature =
    options.signature === undefined
      ? twilio.getExpectedTwilioSignature(options.authToken ?? FAKE_TWILIO_TOKEN, signedUrl, params)
      : options.signature;
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (signature !== null) headers["X-Twilio-Signature"] = signature;
  return new Request(postUrl, { method: "POST", headers, body: new URLSearchParams(params).toString() });
}

/** Signs and POSTs an inbound WhatsApp webhook to a running server (signed over publicUrl + path). */
export function postWhatsAppWebhook(
  baseUrl: string,
  publicUrl: string,
  params: Record<string, string>,
  options: { authToken?: string; signature?: string | null } = {},
): Promise<Response> {
  return fetch(
    signedWhatsAppRequest(`${baseUrl}/webhooks/whatsapp`, `${publicUrl}/webhooks/whatsapp`, params, options),
  );
}
