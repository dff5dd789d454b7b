// The model gateway's share of overhead (issue 13): per model request, a streamed Messages answer fetched straight
// from the loopback fake API vs through /model/* (token check, budget check, forwarding, metering), alternating,
// in one process; and end to end with the real CLI, MODEL_GATEWAY=on vs off, in the same run.
import { join } from "node:path";
import { Hono } from "hono";
import { loadConfig } from "../src/config.ts";
import { createModelGateway } from "../src/gateway/index.ts";
import { createContext } from "../src/runtime.ts";
import { createTenant, updateTenant } from "../src/tenants/index.ts";
import { startFakeAnthropic } from "../test/fakes/anthropic.ts";
import { testEnv } from "../test/helpers/context.ts";
import type { BenchRow } from "./harness.ts";
import { fmt, percentile, row } from "./harness.ts";

const GATEWAY_REQUESTS = 1000;
const GATEWAY_WARMUP = 100;

const MESSAGE_BODY = JSON.stringify({
  model: "claude-sonnet-4-5",
  max_tokens: 64,
  stream: true,
  messages: [{ role: "user", content: "hello" }],
});

/** p50/p95 of one model request (send → last byte of the streamed answer), direct vs through the gateway. */
export async function gatewayRequestRows(dir: string): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const anthropic = startFakeAnthropic({ defaultReply: { type: "text", text: "Hello from the fake model." } });
  const config = loadConfig(
    {
      ...testEnv(join(dir, "gateway")),
      ANTHROPIC_BASE_URL: anthropic.url,
      ANTHROPIC_API_KEY: "sk-ant-bench-fake",
      LOG_LEVEL: "warn",
    },
    { generateSecrets: false },
  );
  const ctx = await createContext(config, { writeLog: () => {} });
  const gateway = createModelGateway(ctx);
  const app = new Hono();
  gateway.routes.mount(app, new Hono());
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  try {
    const tenant = await createTenant(ctx, { name: "Bench Gateway", phone: "+18015550999", channel: "telegram" });
    await updateTenant(ctx, tenant.id, { monthly_budget_usd: 1_000_000 }); // a budget: its check runs on every request
    const { token } = gateway.issueToken(tenant.id, "bench-run");
    const viaGateway = `${gateway.url(`http://127.0.0.1:${server.port}`)}/v1/messages?beta=true`;
    const direct = `${anthropic.url}/v1/messages?beta=true`;
    const once = async (url: string, key: string) => {
      const started = performance.now();
      const res = await fetch(url, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: MESSAGE_BODY,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`model request answered ${res.status}`);
      return performance.now() - started;
    };
    const directMs: number[] = [];
    const gatewayMs: number[] = [];
    for (let i = 0; i < GATEWAY_WARMUP + GATEWAY_REQUESTS; i++) {
      // Alternating, so both see the same machine load.
      const d = await once(direct, "sk-ant-bench-fake");
      const g = await once(viaGateway, token);
      if (i >= GATEWAY_WARMUP) {
        directMs.push(d);
        gatewayMs.push(g);
      }
    }
    const totals = await gateway.runUsage(tenant.id, "bench-run");
    const rows = [50, 95].map((p) => {
      const value = percentile(gatewayMs, p);
      const baseline = percentile(directMs, p);
      return row(
        "overhead",
        {
          case: `model request through the gateway p${p} (${GATEWAY_REQUESTS} streamed requests)`,
          value: `${fmt(value, 2)} ms (+${fmt(value - baseline, 2)} ms)`,
          baseline: `${fmt(baseline, 2)} ms (straight to the fake API)`,
          ratio: `${fmt(value / baseline, 1)}×`,
          target: p === 50 ? "≤ +2 ms" : "—",
        },
        p === 50 ? value - baseline <= 2 : undefined,
      );
    });
    const notes = [
      `Gateway rows: ${GATEWAY_REQUESTS} streamed Messages requests (after ${GATEWAY_WARMUP} warm-up) alternating between the loopback fake API directly and the same fake through /model/* of an in-process gateway (run-token check, the tenant's budget check — one indexed SUM —, forwarding with the platform's key, the SSE answer metered as it streams into one model_usage row each: ${totals.requests} rows written). The difference of the p50s is the gateway's cost per model request.`,
    ];
    return { rows, notes };
  } finally {
    server.stop(true);
    await ctx.database.close();
    await anthropic.stop();
  }
}
