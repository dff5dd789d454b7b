import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The platform's Prometheus metrics; one registry per process (not prom-client's global one). */
export interface Metrics {
  registry: Registry;
  inbound: Counter<"channel" | "outcome">;
  agentRuns: Counter<"result">;
  agentRunSeconds: Histogram<"result">;
  outboxRetries: Counter<"channel">;
  leaseRecoveries: Counter;
  schedulerLagSeconds: Gauge;
  queueDepth: Gauge;
  /** Model tokens through the gateway by kind (input, output, cache_write, cache_read); no tenant label. */
  modelTokens: Counter<"kind">;
  /** Model cost through the gateway (USD, from the price table); no tenant label. */
  modelCostUsd: Counter;
  /** Model requests through the gateway by upstream status class (2xx, 4xx, 5xx). */
  modelRequests: Counter<"status">;
  /** Model requests refused because the tenant's monthly budget was reached. */
  modelBudgetRefusals: Counter;
  /** Agent runs not started because the tenant's monthly budget was reached. */
  budgetRefusedRuns: Counter;
  /** Warm agent processes and their resident memory, read at scrape time from the source the agent sets. */
  agentWarm: {
    processes: Gauge;
    rssBytes: Gauge;
    setSource(source: () => { processes: number; rssBytes: number }): void;
  };
}

/** The `outcome` label of proxystaff_inbound_messages_total: what the pipeline did with a message. */
export const INBOUND_OUTCOMES = [
  "queued",
  "duplicate",
  "command",
  "unknown_chat",
  "rate_limited",
  "paused",
  "archived",
] as const;
export type InboundOutcome = (typeof INBOUND_OUTCOMES)[number];

/** Agent result classes (AgentResult["kind"]) and customer channels: their series exist at 0 from the start. */
const AGENT_RESULTS = [
  "ok",
  "timeout",
  "crash",
  "bad_output",
  "credit_too_low",
  "session_not_found",
  "limit_exceeded",
  "disk_quota_exceeded",
  "disk_space_low",
  "budget_exceeded",
];
const TOKEN_KINDS = ["input", "output", "cache_write", "cache_read"];
const CUSTOMER_CHANNELS = ["telegram", "whatsapp"];

export interface MetricsOptions {
  /**
   * Inbound messages waiting (queued) across all tenants, read at scrape time into proxystaff_queue_depth
   * (from the table, so every process sees the same number). Default: none (the gauge stays 0).
   */
  queueDepth?: () => number | Promise<number>;
}

/** Creates the metrics of one process; gauges with a collector are filled when /metrics is scraped. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const metrics = buildMetrics(options);
  // Known label values start at 0, so rate()/increase() see the first event instead of a new series.
  for (const channel of CUSTOMER_CHANNELS) {
    for (const outcome of INBOUND_OUTCOMES) metrics.inbound.inc({ channel, outcome }, 0);
    metrics.outboxRetries.inc({ channel }, 0);
  }
  for (const result of AGENT_RESULTS) metrics.agentRuns.inc({ result }, 0);
  for (const kind of TOKEN_KINDS) metrics.modelTokens.inc({ kind }, 0);
  return metrics;
}

function buildMetrics(options: MetricsOptions): Metrics {
  const { queueDepth } = options;
  const registry = new Registry();
  const registers = [registry];
  let warmSource: (() => { processes: number; rssBytes: number }) | null = null;
  return {
    registry,
    inbound: new Counter({
      name: "proxystaff_inbound_messages_total",
      help: "Inbound messages by channel and outcome (queued, duplicate, command, unknown_chat, rate_limited, paused, archived).",
      labelNames: ["channel", "outcome"],
      registers,
    }),
    agentRuns: new Counter({
      name: "proxystaff_agent_runs_total",
      help: "Agent runs by result class (ok, timeout, crash, bad_output, credit_too_low, session_not_found, limit_exceeded, disk_quota_exceeded, disk_space_low, budget_exceeded).",
      labelNames: ["result"],
      registers,
    }),
    agentRunSeconds: new Histogram({
      name: "proxystaff_agent_run_duration_seconds",
      help: "Wall time of one agent run.",
      labelNames: ["result"],
      buckets: [0.5, 1, 2, 5, 10, 20, 40, 60, 120, 300],
      registers,
    }),
    outboxRetries: new Counter({
      name: "proxystaff_outbox_retries_total",
      help: "Reply sends that failed temporarily and were scheduled again.",
      labelNames: ["channel"],
      registers,
    }),
    leaseRecoveries: new Counter({
      name: "proxystaff_lease_recoveries_total",
      help: "Tenants recovered from a run cut short: a dead process's lease freed and/or its messages queued again.",
      registers,
    }),
    schedulerLagSeconds: new Gauge({
      name: "proxystaff_scheduler_lag_seconds",
      help: "How late the most recent scheduled task was claimed after its slot.",
      registers,
    }),
    modelTokens: new Counter({
      name: "proxystaff_model_tokens_total",
      help: "Model tokens through the gateway by kind (input, output, cache_write, cache_read).",
      labelNames: ["kind"],
      registers,
    }),
    modelCostUsd: new Counter({
      name: "proxystaff_model_cost_usd_total",
      help: "Model cost through the gateway in USD (MODEL_PRICES over the built-in table).",
      registers,
    }),
    modelRequests: new Counter({
      name: "proxystaff_model_requests_total",
      help: "Model requests through the gateway by upstream status class.",
      labelNames: ["status"],
      registers,
    }),
    modelBudgetRefusals: new Counter({
      name: "proxystaff_model_budget_refusals_total",
      help: "Model requests refused by the gateway: the tenant's monthly budget was reached.",
      registers,
    }),
    budgetRefusedRuns: new Counter({
      name: "proxystaff_budget_refused_runs_total",
      help: "Agent runs not started: the tenant's monthly budget was reached.",
      registers,
    }),
    queueDepth: new Gauge({
      name: "proxystaff_queue_depth",
      help: "Inbound messages waiting (queued) across all tenants.",
      registers,
      ...(queueDepth && {
        async collect(this: Gauge) {
          this.set(await queueDepth());
        },
      }),
    }),
    agentWarm: {
      processes: new Gauge({
        name: "proxystaff_agent_warm_processes",
        help: "Warm agent CLI processes kept for recently active tenants (AGENT_WARM).",
        registers,
        collect(this: Gauge) {
          if (warmSource) this.set(warmSource().processes);
        },
      }),
      rssBytes: new Gauge({
        name: "proxystaff_agent_warm_rss_bytes",
        help: "Resident memory of the warm agent processes (every process in their groups), in bytes.",
        registers,
        collect(this: Gauge) {
          if (warmSource) this.set(warmSource().rssBytes);
        },
      }),
      setSource(source) {
        warmSource = source;
      },
    },
  };
}
