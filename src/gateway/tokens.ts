import type { Clock } from "../clock.ts";
import type { IssuedRunToken } from "../run-tokens.ts";
import { RunTokenStore } from "../run-tokens.ts";

/** Who a model token stands for: one tenant's one run. Nothing in a request can change it. */
export interface ModelCaller {
  tenantId: string;
  runId: string;
}

/** A model token handed to one agent run (as its ANTHROPIC_API_KEY); revoke it when the run ends. */
export type IssuedModelToken = IssuedRunToken;

/** The live model tokens of this process; `psm-` marks them in a leak report and never looks like an Anthropic key. */
export class ModelTokenStore extends RunTokenStore<ModelCaller> {
  constructor(clock: Clock, maxAgeMs: number) {
    super(clock, maxAgeMs, { prefix: "psm-", caller: (tenantId, runId) => ({ tenantId, runId }) });
  }
}
