import type { Context, Hono } from "hono";
import type { Config } from "../config.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { RouteModule } from "../ports.ts";
import type { ModelCaller, ModelTokenStore } from "./tokens.ts";

/** Where the gateway is mounted: agents get `ANTHROPIC_BASE_URL=<server>/model`. */
export const MODEL_PATH = "/model";
/** The largest request body forwarded (the Messages API's own limit). */
export const MAX_MODEL_REQUEST_BYTES = 32 * 1024 * 1024;
/** The beta flag the Claude CLI itself sends with an OAuth token (CLI 2.1.332, observed). */
export const OAUTH_BETA = "oauth-2025-04-20";

/** Headers that belong to one hop (RFC 9110 §7.6.1) or that fetch sets itself: never forwarded either way. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/** One answer of the upstream API as the gateway forwards it (the hook for metering). */
export interface ModelExchange {
  caller: ModelCaller;
  method: string;
  /** The path under the API's base, e.g. `/v1/messages` (no query string). */
  path: string;
  status: number;
  headers: Headers;
  /** The answer's body as it streams; null for an empty answer. */
  body: ReadableStream<Uint8Array> | null;
  /** The `model` the request named (read from its first bytes only), if any. */
  requestModel: string | null;
}

/** Decides before forwarding whether this caller may use the model now (the budget): null = yes, else the refusal. */
export type ModelAdmission = (caller: ModelCaller) => Promise<{ status: number; type: string; message: string } | null>;

/**
 * Called with every upstream answer before it goes back to the agent; returns the body to send (the same stream,
 * or a pass-through that reads `usage` as it flows). It must not buffer: the first byte may not wait for the last.
 */
export type ModelExchangeObserver = (exchange: ModelExchange) => ReadableStream<Uint8Array> | null;

export interface ModelGatewayOptions {
  config: Pick<Config, "modelUpstreamUrl" | "agentAuthEnv">;
  tokens: ModelTokenStore;
  log: Logger;
  /** The metering hook (next: model_usage). Default: the body unchanged. */
  observe?: ModelExchangeObserver;
  /** The budget check before each request. Default: every request admitted. */
  admit?: ModelAdmission;
  /** The fetch used upstream (tests). Default globalThis.fetch. */
  fetch?: typeof fetch;
}

/** The platform's model login as the gateway sends it upstream. */
export type UpstreamLogin = { kind: "api_key"; key: string } | { kind: "oauth_token"; token: string } | null;

/** The login the gateway uses: ANTHROPIC_API_KEY first (as the CLI does when both are set), else CLAUDE_CODE_OAUTH_TOKEN. */
export function upstreamLogin(config: Pick<Config, "agentAuthEnv">): UpstreamLogin {
  const auth = config.agentAuthEnv;
  if (auth.ANTHROPIC_API_KEY) return { kind: "api_key", key: auth.ANTHROPIC_API_KEY };
  if (auth.CLAUDE_CODE_OAUTH_TOKEN) return { kind: "oauth_token", token: auth.CLAUDE_CODE_OAUTH_TOKEN };
  return null;
}

/**
 * `/model/*`, any method: checks the run's token (x-api-key, or `Authorization: Bearer`), then forwards the request
 * to the platform's API with the platform's login, every other header passed through except hop-by-hop ones and
 * the token, and streams the answer back as it arrives with the upstream status unchanged (so the CLI's own
 * retries of 429/529/5xx work). Unreachable upstream → 502. Errors are in Anthropic's shape, so the CLI reads them.
 * Nothing of a prompt, an answer or a token is logged.
 */
export function createModelGatewayRoutes(options: ModelGatewayOptions): RouteModule {
  const { tokens, log } = options;
  const upstreamFetch = options.fetch ?? fetch;
  const observe = options.observe ?? ((exchange: ModelExchange) => exchange.body);
  const base = options.config.modelUpstreamUrl;
  const login = upstreamLogin(options.config);

  async function forward(c: Context): Promise<Response> {
    const request = c.req.raw;
    const caller = tokens.resolve(runTokenOf(request.headers));
    if (!caller) {
      log.warn("model request refused", { reason: "bad_token" });
      return anthropicError(
        401,
        "authentication_error",
        "invalid x-api-key: the run's model token is missing, unknown or expired",
      );
    }
    if (!login) {
      return anthropicError(
        401,
        "authentication_error",
        "the platform has no model login (ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN) for the gateway",
      );
    }
    const refusal = await options.admit?.(caller);
    if (refusal) return anthropicError(refusal.status, refusal.type, refusal.message);
    const url = new URL(request.url);
    const path = url.pathname.slice(MODEL_PATH.length) || "/";
    const declared = Number(request.headers.get("content-length") ?? "0");
    if (declared > MAX_MODEL_REQUEST_BYTES) return tooLarge();
    let body: Uint8Array | undefined;
    if (request.method !== "GET" && request.method !== "HEAD" && request.body) {
      const read = await readCapped(request.body, MAX_MODEL_REQUEST_BYTES);
      if (read === null) return tooLarge();
      body = read;
    }
    // A model answer may take minutes: the server's idle timeout must not cut this request (Bun: c.env is the server).
    (c.env as { timeout?: (req: Request, seconds: number) => void } | undefined)?.timeout?.(request, 0);

    let upstream: Response;
    try {
      upstream = await upstreamFetch(`${base}${path}${url.search}`, {
        method: request.method,
        headers: upstreamHeaders(request.headers, login),
        ...(body ? { body } : {}),
        signal: request.signal,
        redirect: "manual",
      });
    } catch (error) {
      if (request.signal.aborted) return new Response(null, { status: 499 });
      log.warn("model API unreachable", {
        tenantId: caller.tenantId,
        runId: caller.runId,
        path,
        error: errorMessage(error),
      });
      // Metered as a 502 of this run (no tokens): the run's outcome can then say the model API was down.
      observe({
        caller,
        method: request.method,
        path,
        status: 502,
        headers: new Headers(),
        body: null,
        requestModel: null,
      });
      return anthropicError(502, "api_error", "the model API could not be reached through the ProxyStaff gateway");
    }
    if (upstream.status >= 500 || upstream.status === 429) {
      log.info("model API answered with an error", {
        tenantId: caller.tenantId,
        runId: caller.runId,
        path,
        status: upstream.status,
      });
    }
    const responseBody = observe({
      caller,
      method: request.method,
      path,
      status: upstream.status,
      headers: upstream.headers,
      body: upstream.body,
      requestModel: body ? modelNamed(body) : null,
    });
    return new Response(responseBody, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: responseHeaders(upstream.headers),
    });
  }

  return {
    mount(app: Hono) {
      app.all(`${MODEL_PATH}/*`, forward);
      app.all(MODEL_PATH, forward);
    },
  };
}

/** The run's token: the CLI sends ANTHROPIC_API_KEY as x-api-key (or a Bearer when configured with a token). */
function runTokenOf(headers: Headers): string | null {
  const key = headers.get("x-api-key");
  if (key) return key.trim();
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.get("authorization") ?? "");
  return bearer?.[1] ?? null;
}

/** The agent's headers minus hop-by-hop ones and its token, plus the platform's login. */
export function upstreamHeaders(incoming: Headers, login: NonNullable<UpstreamLogin>): Headers {
  const headers = new Headers();
  for (const [name, value] of incoming) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === "x-api-key" || lower === "authorization" || lower === "accept-encoding")
      continue;
    if (lower === "cookie" || lower.startsWith("proxy-")) continue;
    headers.append(name, value);
  }
  if (login.kind === "api_key") {
    headers.set("x-api-key", login.key);
  } else {
    headers.set("authorization", `Bearer ${login.token}`);
    const betas = (headers.get("anthropic-beta") ?? "")
      .split(",")
      .map((b) => b.trim())
      .filter(Boolean);
    if (!betas.includes(OAUTH_BETA)) betas.unshift(OAUTH_BETA);
    headers.set("anthropic-beta", betas.join(","));
  }
  return headers;
}

/** The upstream's headers minus hop-by-hop ones; fetch already decoded the body, so no content-encoding either. */
function responseHeaders(upstream: Headers): Headers {
  const headers = new Headers();
  for (const [name, value] of upstream) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === "content-encoding" || lower === "set-cookie") continue;
    headers.append(name, value);
  }
  return headers;
}

/** An error in the Messages API's own shape (the CLI shows `error.message` and retries by status). */
export function anthropicError(status: number, type: string, message: string): Response {
  return Response.json({ type: "error", error: { type, message } }, { status });
}

function tooLarge(): Response {
  return anthropicError(413, "request_too_large", `the request body is larger than ${MAX_MODEL_REQUEST_BYTES} bytes`);
}

/** The request's `model` field, looked for in its first bytes only (the CLI sends it first; never the prompt). */
function modelNamed(body: Uint8Array): string | null {
  const head = new TextDecoder().decode(body.subarray(0, 2048));
  return /"model"\s*:\s*"([^"\\]{1,200})"/.exec(head)?.[1] ?? null;
}

/** Reads a body up to `limit` bytes; null when it is longer. */
async function readCapped(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
