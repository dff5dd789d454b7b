import type { ToolsHealthOptions } from "../agent/tools/index.ts";
import type { AppContext } from "../context.ts";
import type { ToolHealth } from "./tool-health.ts";

/** Suffix naming an MCP tool that runs on the server (it uses credentials the agent never sees). */
const SERVER_SIDE_SUFFIX = " (server-side)";

/**
 * The health of the MCP tools that run server-side with a tenant's secret (today send_email:
 * SENDGRID_API_KEY stored, a sender known, SendGrid reachable and accepting the key), in the shape
 * of the script checks: tool "send_email (server-side)"; ok, warn when a credential is missing
 * (the tenant may simply not use email), failed when configured but refused or unreachable.
 * Never throws: a check that cannot run (e.g. an undecryptable vault) is a failed line with the reason.
 */
export async function runServerSideToolChecks(ctx: AppContext, tenantId: string, options: ToolsHealthOptions = {}): Promise<ToolHealth[]> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    // Loaded on use: a static import closes the cycle http/admin → tenants → agent/tools → scheduler → http/admin.
    const { checkToolsHealth } = await import("../agent/tools/index.ts");
    const results = await checkToolsHealth(ctx, tenantId, options);
    return results.map((r) => ({
      tool: `${r.tool}${SERVER_SIDE_SUFFIX}`,
      status: r.status === "ok" ? "ok" : r.status === "not_configured" ? "warn" : "failed",
      output: r.detail,
      exit_code: null,
      duration_ms: elapsed(),
    }));
  } catch (err) {
    ctx.log.warn("server-side tool health check failed", { tenantId, error: err as Error });
    const why = err instanceof Error ? err.message : String(err);
    return [{ tool: `send_email${SERVER_SIDE_SUFFIX}`, status: "failed", output: `The check could not run: ${why}`, exit_code: null, duration_ms: elapsed() }];
  }
}
