import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../../context.ts";
import {
  agentHealthDetails,
  getSessionState,
  listMessagePage,
  parseMessageCursor,
  resetSession,
} from "../../conversation/index.ts";
import type { MessageRow } from "../../db/index.ts";
import { DELIVERY_STATUSES } from "../../db/schema.ts";
import { requireTenant } from "../../tenants/index.ts";
import type { AdminApi } from "./api.ts";
import { errorResponses, jsonResponse, TenantIdParams } from "./api.ts";

const MessagesQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .default(50)
    .openapi({ description: "At most this many (1-500, default 50)" }),
  before: z
    .string()
    .transform((text, c) => {
      const cursor = parseMessageCursor(text);
      if (cursor === null) {
        c.addIssue({
          code: "custom",
          message: "must be a next_before cursor or an ISO-8601 time such as 2026-11-26T08:00:00.000Z",
        });
        return z.NEVER;
      }
      return cursor;
    })
    .optional()
    .openapi({
      type: "string",
      description:
        "Only older messages: pass the previous page's next_before (an opaque cursor), or an ISO-8601 time for messages created before it",
    }),
});

const MessageSchema = z
  .object({
    id: z.string(),
    tenant_id: z.string().nullable(),
    direction: z.enum(["in", "out"]),
    channel: z.string(),
    chat_id: z.string(),
    external_id: z.string().nullable(),
    kind: z.string(),
    sender: z.string().nullable(),
    body: z.string(),
    media: z.string().nullable(),
    status: z.string(),
    attempts: z.number().int(),
    error: z.string().nullable(),
    task_id: z.string().nullable(),
    reply_to: z.string().nullable(),
    delivery_status: z.enum(DELIVERY_STATUSES).nullable().openapi({
      description: "Outbound WhatsApp: what Twilio's status callbacks reported (only moves forward); null before any",
    }),
    error_code: z
      .string()
      .nullable()
      .openapi({ description: "The platform's error code of a failed or undelivered message" }),
    created_at: z.string(),
    processed_at: z.string().nullable(),
  })
  .openapi("Message");

const MessagePage = z
  .object({
    messages: z.array(MessageSchema),
    next_before: z.string().nullable().openapi({
      description: "Opaque cursor (`<created_at>|<id>`): pass as ?before= for the next (older) page; null at the end",
    }),
  })
  .openapi("MessagePage");

const ResetResult = z.object({ tenant_id: z.uuid(), reset: z.boolean(), message: z.string() }).openapi("SessionReset");

/** The public fields of a message row (lease bookkeeping stays internal). */
export function publicMessage(row: MessageRow): z.infer<typeof MessageSchema> {
  const { next_attempt_at: _next, lease_owner: _owner, lease_expires_at: _expires, ...rest } = row;
  return rest;
}

/** GET /tenants/:id/messages, POST /tenants/:id/reset-session. */
export function registerConversationRoutes(api: AdminApi, ctx: AppContext): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/tenants/{id}/messages",
      tags: ["messages"],
      summary: "The tenant's messages in both directions, newest first",
      request: { params: TenantIdParams, query: MessagesQuery },
      responses: { 200: jsonResponse(MessagePage, "A page of messages"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { limit, before } = c.req.valid("query");
      await requireTenant(ctx.db, id);
      const page = await listMessagePage(ctx.db, { tenantId: id, limit, before });
      return c.json({ messages: page.messages.map(publicMessage), next_before: page.nextBefore }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/tenants/{id}/reset-session",
      tags: ["sessions"],
      summary: "Forget the agent session (the next message starts fresh) and free the lease",
      request: { params: TenantIdParams },
      responses: { 200: jsonResponse(ResetResult, "Reset"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await requireTenant(ctx.db, id);
      const before = await getSessionState(ctx.db, id);
      const reset = await resetSession(ctx.db, id, ctx.clock.now());
      ctx.log.info("session reset by operator", {
        tenantId: id,
        hadSession: reset,
        leaseOwner: before?.lease_owner ?? null,
      });
      const message = reset
        ? "Agent session cleared and lease freed; the next message starts a fresh session."
        : "The tenant has no agent session yet; nothing to reset.";
      return c.json({ tenant_id: id, reset, message }, 200);
    },
  );
}

const AgentHealthSchema = z
  .object({
    last_agent_failure: z
      .object({
        kind: z.string(),
        at: z.string(),
        tenant_id: z.string().openapi({ format: "uuid" }),
        error: z
          .string()
          .openapi({ description: "The classified error (first 500 characters; the runner redacts secrets)" }),
      })
      .nullable(),
    last_agent_ok_at: z.string().nullable(),
    queue: z.object({ queued: z.number().int(), processing: z.number().int() }),
    degraded: z
      .boolean()
      .openapi({ description: "True while the last failure is credit_too_low and no run succeeded since" }),
  })
  .openapi("AgentHealth", {
    example: {
      last_agent_failure: {
        kind: "timeout",
        at: "2026-11-26T09:00:00.000Z",
        tenant_id: "3f0c6a52-5a7e-4c55-9a0e-6f1f5f0a1b2c",
        error: "no answer within 300000 ms",
      },
      last_agent_ok_at: "2026-11-26T09:05:00.000Z",
      queue: { queued: 0, processing: 1 },
      degraded: false,
    },
  });

/**
 * GET /agent-health: the last agent failure with its tenant and error text (public /health shows only
 * its kind and time), the last success, the queue, and the credit-too-low flag.
 */
export function registerAgentHealthRoute(api: AdminApi, ctx: AppContext): void {
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
}
