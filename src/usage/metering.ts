import type { AppContext } from "../context.ts";
import type { Tenant } from "../tenants/index.ts";
import { getTenant } from "../tenants/index.ts";
import type { BudgetStatus } from "./budget.ts";
import { budgetStatus, tenantDay } from "./budget.ts";
import { CREDIT_LOW_TEXT, CreditState } from "./credit.ts";
import type { UsageReading } from "./meter.ts";
import { emptyReading, meterStream } from "./meter.ts";
import { costOf, PriceTable } from "./prices.ts";
import type { UsageTotals } from "./store.ts";
import { recordModelUsage, runUsageTotals } from "./store.ts";

/** One answer to meter: whose run, which request, what came back. */
export interface MeteredAnswer {
  tenantId: string;
  runId: string;
  /** The path under the API's base (`/v1/messages`). */
  path: string;
  method: string;
  status: number;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  /** The model the request asked for (read from the request's first bytes), if any. */
  requestModel: string | null;
}

/** Why a tenant's model request is refused before it goes upstream. */
export interface Refusal {
  status: number;
  type: string;
  message: string;
}

/**
 * Meters the model gateway's traffic: one model_usage row per Messages API request (tokens from the answer's
 * `usage`, cost from the price table, the tenant's local day), Prometheus counters without a tenant label, the
 * platform's credit state, and the budget check before each request. Never the prompt or the answer.
 */
export class UsageMeter {
  readonly credit: CreditState;
  private readonly prices: PriceTable;
  private readonly unknownModelsLogged = new Set<string>();
  /** Per run: writes of its rows still in flight (a run's totals wait for them). */
  private readonly pending = new Map<string, Set<Promise<void>>>();
  private readonly log: AppContext["log"];

  constructor(private readonly ctx: AppContext) {
    this.credit = new CreditState(ctx.db);
    this.prices = new PriceTable(ctx.config.modelPrices);
    this.log = ctx.log.child({ component: "usage" });
  }

  /** Refuses a request of a tenant at or over its monthly budget (400, so the CLI stops instead of retrying). */
  async admit(tenantId: string): Promise<Refusal | null> {
    const tenant = await getTenant(this.ctx.db, tenantId);
    if (!tenant) return null; // a run's token outlives no tenant in practice; the run fails upstream of here
    const status = await this.status(tenant);
    if (!status.isOver) return null;
    this.ctx.metrics.modelBudgetRefusals.inc();
    this.log.warn("model request refused: monthly budget reached", {
      tenantId,
      month: status.month,
      budgetUsd: status.budgetUsd,
      spentUsd: roundUsd(status.spentUsd),
    });
    return {
      status: 400,
      type: "invalid_request_error",
      message: `ProxyStaff: this tenant's monthly model budget is reached (budget_exceeded: ${roundUsd(status.spentUsd)} of ${status.budgetUsd} USD in ${status.month}); no more model requests until the operator raises it or the month ends`,
    };
  }

  /** The tenant's spend this (tenant-local) month against its budget. */
  status(tenant: Pick<Tenant, "id" | "timezone" | "monthly_budget_usd">): Promise<BudgetStatus> {
    return budgetStatus(this.ctx.db, tenant, this.ctx.config, this.ctx.clock.now());
  }

  /** The answer's body, passed through a meter that records the request's row when the body ends. */
  observe(answer: MeteredAnswer): ReadableStream<Uint8Array> | null {
    if (answer.method !== "POST" || !isMessagesPath(answer.path)) return answer.body;
    const atMs = this.ctx.clock.now();
    const finish = (reading: UsageReading) => this.track(answer.runId, this.record(answer, reading, atMs));
    if (!answer.body) {
      finish(emptyReading());
      return null;
    }
    return meterStream(answer.body, answer.headers.get("content-type") ?? "", finish);
  }

  /** The run's totals, once every row of it is written. */
  async runTotals(tenantId: string, runId: string): Promise<UsageTotals> {
    const writes = this.pending.get(runId);
    if (writes) await Promise.allSettled([...writes]);
    return runUsageTotals(this.ctx.db, tenantId, runId);
  }

  private track(runId: string, write: Promise<void>): void {
    let writes = this.pending.get(runId);
    if (!writes) {
      writes = new Set();
      this.pending.set(runId, writes);
    }
    writes.add(write);
    void write.finally(() => {
      writes.delete(write);
      if (writes.size === 0 && this.pending.get(runId) === writes) this.pending.delete(runId);
    });
  }

  private async record(answer: MeteredAnswer, reading: UsageReading, atMs: number): Promise<void> {
    const model = reading.model ?? answer.requestModel ?? "unknown";
    try {
      await this.noteCredit(answer.status, reading, atMs);
      const { price, isKnown } = this.prices.lookup(model);
      if (!isKnown && reading.hasUsage && !this.unknownModelsLogged.has(model)) {
        this.unknownModelsLogged.add(model);
        this.log.warn("model not in the price table: priced at the highest known price (set MODEL_PRICES)", {
          model,
          price,
        });
      }
      const costUsd = costOf(reading, price);
      const tenant = await getTenant(this.ctx.db, answer.tenantId);
      if (!tenant) return; // purged meanwhile: its rows went with it
      await recordModelUsage(this.ctx.db, {
        tenantId: tenant.id,
        runId: answer.runId,
        model,
        inputTokens: reading.inputTokens,
        outputTokens: reading.outputTokens,
        cacheCreationInputTokens: reading.cacheCreationInputTokens,
        cacheReadInputTokens: reading.cacheReadInputTokens,
        costUsd,
        status: answer.status,
        day: tenantDay(atMs, tenant.timezone),
      });
      const tokens = this.ctx.metrics.modelTokens;
      tokens.inc({ kind: "input" }, reading.inputTokens);
      tokens.inc({ kind: "output" }, reading.outputTokens);
      tokens.inc({ kind: "cache_write" }, reading.cacheCreationInputTokens);
      tokens.inc({ kind: "cache_read" }, reading.cacheReadInputTokens);
      this.ctx.metrics.modelCostUsd.inc(costUsd);
      this.ctx.metrics.modelRequests.inc({ status: statusClass(answer.status) });
    } catch (error) {
      // Metering must never break the agent's answer, which has already gone out.
      this.log.error("model usage not recorded", { tenantId: answer.tenantId, runId: answer.runId, error });
    }
  }

  private async noteCredit(status: number, reading: UsageReading, atMs: number): Promise<void> {
    if (status >= 200 && status < 300) {
      if (await this.credit.markOk()) this.log.info("model credit is fine again (a request succeeded)");
    } else if (status === 400 && reading.errorMessage && CREDIT_LOW_TEXT.test(reading.errorMessage)) {
      if (await this.credit.markLow(atMs))
        this.log.error("model credit balance is too low: every tenant's agent fails until it is topped up");
    }
  }
}

function isMessagesPath(path: string): boolean {
  return path === "/v1/messages";
}

function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

function roundUsd(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
