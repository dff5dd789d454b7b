import type { AppContext } from "../context.ts";
import type { HealthContributor, RouteModule } from "../ports.ts";
import type { UsageTotals } from "../usage/index.ts";
import { UsageMeter } from "../usage/index.ts";
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
  /** One run's model tokens and cost, once its last answer is recorded. */
  runUsage(tenantId: string, runId: string): Promise<UsageTotals>;
  /** /health: `model: "ok"` or `"credit_low"` (with `model_credit_low_since`), and `budget_refused_runs`. */
  health: HealthContributor;
}

/** Builds the gateway at /model/* (see route.ts), metered into model_usage and checked against budgets. */
export function createModelGateway(ctx: AppContext): ModelGateway {
  const meter = new UsageMeter(ctx);
  // A token outlives its run only if the run is never revoked (a bug): the time limit plus a margin caps it.
  const tokens = new ModelTokenStore(ctx.clock, ctx.config.AGENT_TIMEOUT_MS + 60_000);
  const routes = createModelGatewayRoutes({
    config: ctx.config,
    tokens,
    log: ctx.log.child({ component: "model-gateway" }),
    admit: (caller) => meter.admit(caller.tenantId),
    observe: ({ caller, ...answer }) => meter.observe({ ...answer, tenantId: caller.tenantId, runId: caller.runId }),
  });
  return {
    routes,
    issueToken: (tenantId, runId) => tokens.issue(tenantId, runId),
    url: (baseUrl) => `${baseUrl}${MODEL_PATH}`,
    runUsage: (tenantId, runId) => meter.runTotals(tenantId, runId),
    async health() {
      const part = await meter.credit.health();
      // Runs refused before start (over budget) by this process since it started: the operator's counter.
      const refused = (await ctx.metrics.budgetRefusedRuns.get()).values[0]?.value ?? 0;
      return { ...part, fields: { ...part.fields, budget_refused_runs: refused } };
    },
  };
}
