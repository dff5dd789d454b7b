import type { AppContext } from "./context.ts";
import type { HealthRegistry } from "./http/health.ts";
import type { ServerPart } from "./serve.ts";

/**
 * Wires the modules of a running server, top to bottom like the inbound path:
 * channels -> conversation (pipeline, queue, dispatcher) -> agent -> outbox -> channels; then the scheduler.
 * Each module contributes routes, services (loops with start/stop) and health fields.
 */
export async function buildServerParts(ctx: AppContext, health: HealthRegistry): Promise<ServerPart[]> {
  void ctx;
  void health;
  return [];
}
