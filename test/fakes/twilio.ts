/**
 * A loopback fake of Twilio's Messages API (127.0.0.1, port 0): records messages.create calls and
 * answers like Twilio; fails the next calls on request; serves media files behind the account's basic
 * auth; and signs inbound WhatsApp webhooks the way Twilio does. It knows WhatsApp's 24-hour window
 * (with `enforceWindow`: a free-form Body to a number that has not written within 24 h of the fake's
 * clock → 63016; a ContentSid template always goes), fetches MediaUrls like Twilio, and posts signed
 * status callbacks to a message's StatusCallback.
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
  /** Set when the message was sent as a template (then `body` is ""). */
  contentSid?: string;
  /** The ContentVariables JSON as sent. */
  contentVariables?: string;
  statusCallback?: string;
  mediaUrls: string[];
  /** What fetching each MediaUrl gave (done when the message is created, as Twilio does). */
  fetchedMedia: { url: string; status: number; contentType: string | null; bytes: Uint8Array }[];
}

export interface FakeTwilioOptions {
  accountSid?: string;
  authToken?: string;
  /** Refuse free-form messages outside the 24-hour window (63016). Default false. */
  enforceWindow?: boolean;
  /** The fake's clock for the window. Default Date.now. */
  now?: () => number;
  /** How the fake fetches a MediaUrl (tests route the public URL to their app). Default fetch. */
  fetchMedia?: (url: string) => Promise<Response>;
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
  /** Records that `phone` (E.164) wrote at `atMs` (default the fake's now): the window rule counts from it. */
  noteInbound(phone: string, atMs?: number): void;
  /**
   * Posts a signed status callback for a sent message to its StatusCallback (signed over that URL);
   * `deliver` takes the request instead of fetch (a test's in-process app).
   */
  sendStatus(
    sid: string,
    status: string,
    options?: {
      errorCode?: string;
      deliver?: (req: Request) => Response | Promise<Response>;
      signature?: string | null;
    },
  ): Promise<Response>;
  /** Stores a media file; returns its MediaUrl (fetching it needs the account's basic auth). */
  addMedia(content: Uint8Array | string, contentType: string): string;
  stop(): Promise<void>;
}

export const FAKE_TWILIO_SID = `AC${"0123456789abcdef".repeat(2)}`;
export const FAKE_TWILIO_TOKEN = "fake-twilio-auth-token-123";

export function startFakeTwilio(options: FakeTwilioOptions = {}): FakeTwilio {
  const accountSid = options.accountSid ?? FAKE_TWILIO_SID;
  const authToken = options.authToken ?? FAKE_TWILIO_TOKEN;
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;
  const failures: FakeTwilioFailure[] = [];
  const media = new Map<string, { content: Uint8Array; contentType: string }>();
  let counter = 0;
  const lastInbound = new Map<string, number>();
  const clock = options.now ?? Date.now;
  const fetchMedia = options.fetchMedia ?? ((url: string) => fetch(url));

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
    const contentSid = value("ContentSid");
    const to = value("To");
    if (contentSid === "" && options.enforceWindow) {
      const last = lastInbound.get(to.replace(/^whatsapp:/, ""));
      if (last === undefined || clock() - last >= 24 * 3_600_000)
        return twilioError(400, 63016, "Failed to send freeform message because you are outside the allowed window.");
    }
    const mediaUrls = form.getAll("MediaUrl").filter((v): v is string => typeof v === "string");
    const fetchedMedia: FakeTwilioSent["fetchedMedia"] = [];
    for (const url of mediaUrls) {
      const res = await fetchMedia(url);
      fetchedMedia.push({
        url,
        status: res.status,
        contentType: res.headers.get("content-type"),
        bytes: new Uint8Array(await res.arrayBuffer()),
      });
    }
    const sid = `SM${(++counter).toString(16).padStart(32, "0")}`;
    const message: FakeTwilioSent = {
      sid,
      from: value("From"),
      to,
      body: value("Body"),
      accountSid,
      ...(contentSid ? { contentSid, contentVariables: value("ContentVariables") } : {}),
      ...(value("StatusCallback") ? { statusCallback: value("StatusCallback") } : {}),
      mediaUrls,
      fetchedMedia,
    };
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
    noteInbound(phone, atMs) {
      lastInbound.set(phone, atMs ?? clock());
    },
    async sendStatus(sid, status, opts = {}) {
      const message = fake.sent.find((m) => m.sid === sid);
      if (!message?.statusCallback) throw new Error(`message ${sid} was sent without a StatusCallback`);
      const params: Record<string, string> = {
        MessageSid: sid,
        SmsSid: sid,
        AccountSid: accountSid,
        From: message.from,
        To: message.to,
        MessageStatus: status,
        SmsStatus: status,
        ChannelPrefix: "whatsapp",
        ApiVersion: "2010-04-01",
      };
      if (opts.errorCode) params.ErrorCode = opts.errorCode;
      const signedUrl = message.statusCallback;
      const req = signedWhatsAppRequest(signedUrl, signedUrl, params, { authToken, signature: opts.signature });
      return opts.deliver ? await opts.deliver(req) : fetch(req);
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
