import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../context.ts";
import { errorResponses, jsonResponse } from "../http/admin/index.ts";
import type { AdminApi } from "../http/admin/index.ts";
import { agentHealthDetails } from "./agent-health.ts";

const AgentHealthSchema = z
  .object({
    last_agent_failure: z
      .object({
        kind: z.string(),
        at: z.string(),
        tenant_id: z.string().openapi({ format: "uuid" }),
        error: z.string().openapi({ description: "The classified error (first 500 characters; the runner redacts secrets)" }),
      })
      .nullable(),
    last_agent_ok_at: z.string().nullable(),
    queue: z.object({ queued: z.number().int(), processing: z.number().int() }),
    degraded: z.boolean().openapi({ description: "True while the last failure is credit_too_low and no run succeeded since" }),
  })
  .openapi("AgentHealth", {
    example: {
      last_agent_failure: { kind: "timeout", at: "2026-11-26T09:00:00.000Z", tenant_id: "3f0c6a52-5a7e-4c55-9a0e-6f1f5f0a1b2c", error: "no answer within 300000 ms" },
      last_agent_ok_at: "2026-11-26T09:05:00.000Z",
      queue: { queued: 0, processing: 1 },
      degraded: false,
    },
  });

/**
 * The conversation's admin route, registered on the admin OpenAPI app (pass to adminRoutes' `register`):
 *   GET /admin/agent-health → the last agent failure with its tenant and error text (public /health
 *   shows only its kind and time), the last success, the queue, and the credit-too-low flag.
 */
export function conversationAdminRoutes(ctx: AppContext): (api: AdminApi) => void {
  return function registerAgentHealthRoute(api) {
    api.openapi(
      createRoute({
        method: "get",
        path: "/agent-health",
        tags: ["health"],
        summary: "The last failed agent run in full (tenant, error), the last success, the queue",
        responses: { 200: jsonResponse(AgentHealthSchema, "Agent health with details"), ...errorResponses(401) },
      }),
      async (c) => {
        const { is_credit_out, ...details } = await agentHealthDetails(ctx.db);
        return c.json({ ...details, degraded: is_credit_out }, 200);
      },
    );
  };
}
