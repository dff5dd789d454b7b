import type { AppContext } from "../context.ts";
import type { RouteModule } from "../ports.ts";
import type { ModelExchangeObserver } from "./route.ts";
import { createModelGatewayRoutes, MODEL_PATH } from "./route.ts";
import type { IssuedModelToken } from "./tokens.ts";
import { ModelTokenStore } from "./tokens.ts";

export type { ModelExchange, ModelExchangeObserver } from "./route.ts";

/** The model gateway of one process: its routes, and per-run tokens for the conversation engine. */
export interface ModelGateway {
  routes: RouteModule;
  /** A fresh token bound to this tenant's run, dead once revoked (the run ended). */
  issueToken(tenantId: string, runId: string): IssuedModelToken;
  /** The gateway's URL under the server's base URL (the agent's ANTHROPIC_BASE_URL). */
  url(baseUrl: string): string;
}

/** Builds the gateway at /model/* (see route.ts); `observe` is the metering hook. */
export function createModelGateway(ctx: AppContext, options: { observe?: ModelExchangeObserver } = {}): ModelGateway {
  // A token outlives its run only if the run is never revoked (a bug): the time limit plus a margin caps it.
  const tokens = new ModelTokenStore(ctx.clock, ctx.config.AGENT_TIMEOUT_MS + 60_000);
  const routes = createModelGatewayRoutes({
    config: ctx.config,
    tokens,
    log: ctx.log.child({ component: "model-gateway" }),
    ...(options.observe ? { observe: options.observe } : {}),
  });
  return {
    routes,
    issueToken: (tenantId, runId) => tokens.issue(tenantId, runId),
    url: (baseUrl) => `${baseUrl}${MODEL_PATH}`,
  };
}
