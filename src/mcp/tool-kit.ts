import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import { ZodError } from "zod";
import type { ChannelName } from "../channels/types.ts";
import type { AppContext } from "../context.ts";
import type { OutboundFileReply, WhatsAppSendMode } from "../conversation/index.ts";
import { appendTimeline, whatsappSendMode } from "../conversation/index.ts";
import { getCredential } from "../credentials/index.ts";
import type { TaskRow } from "../db/schema.ts";
import { AppError, describeZodError, errorMessage } from "../errors.ts";
import type { LogFields, Logger } from "../log.ts";
import { redact } from "../log.ts";
import { cancelTask, createTask, listTasks } from "../scheduler/index.ts";
import type { Tenant } from "../tenants/index.ts";
import { getTenant, setOnboardingStatus, updateTenant } from "../tenants/index.ts";

/** Who a valid token speaks for: every tool resolves its tenant from this and nothing else. */
export interface ToolCaller {
  tenantId: string;
  runId: string;
  /** Calls made so far in this run, per tool (shared by every request of the run). */
  calls: Map<string, number>;
}

/** How to reach SendGrid's v3 API (the base is SENDGRID_API_BASE; tests aim it at a loopback fake). */
export interface SendgridClientOptions {
  /** e.g. https://api.sendgrid.com (no trailing slash). */
  baseUrl: string;
  fetch?: typeof fetch;
  /** Time limit of one request. Default 15 000 ms. */
  timeoutMs?: number;
}

/** Everything one tool call may use; the tenant comes from the token, never from the input. */
export interface ToolEnv {
  ctx: AppContext;
  deps: AgentToolsDeps;
  backends: ToolBackends;
  /** Where send_email talks to SendGrid. */
  sendgrid: SendgridClientOptions;
  caller: ToolCaller;
  /** The token's tenant, loaded fresh for each MCP request. */
  tenant: Tenant;
  log: Logger;
  /** Registers a secret the call touched: it is scrubbed from the result, logs and timeline. */
  redact(secret: string): void;
}

/** What a tool reports back on success. */
export interface ToolSuccess {
  /** Shown to the agent. */
  text: string;
  /** One line for the tenant's timeline (no secrets). */
  timeline: string;
  /** Extra log fields (no secrets). */
  fields?: LogFields;
}

/**
 * An expected refusal (bad input, not allowed, missing credential): its message is written for
 * the agent and returned as an `isError` result, never thrown to the client.
 */
export class ToolFailure extends Error {
  override name = "ToolFailure";
}

/** One ProxyStaff tool: its name, description, zod input shape and what it does. */
export interface ToolSpec<Shape extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  inputSchema: Shape;
  /** Marks tools that only read (the CLI may treat them as safe). */
  readOnly?: boolean;
  /** Most calls one run may make (a runaway loop must not send a thousand emails). Default: no limit. */
  maxCallsPerRun?: number;
  run(input: z.output<z.ZodObject<Shape>>, env: ToolEnv): Promise<ToolSuccess>;
}

/** Builds a spec with its input type inferred from the shape. */
export function defineTool<Shape extends z.ZodRawShape>(spec: ToolSpec<Shape>): ToolSpec<Shape> {
  return spec;
}

/**
 * Registers a tool on a per-request MCP server. The wrapper times the call, turns refusals and
 * bugs into `isError` results, logs one line with fields and appends one timeline line.
 */
export function registerProxyTool<Shape extends z.ZodRawShape>(
  server: McpServer,
  env: Omit<ToolEnv, "redact">,
  spec: ToolSpec<Shape>,
): void {
  const callback = async (input: z.output<z.ZodObject<Shape>>): Promise<CallToolResult> => {
    const started = performance.now();
    const secrets: string[] = [];
    const scrub = (text: string) => redact(text, secrets);
    const callEnv: ToolEnv = { ...env, redact: (s) => void (s.length > 0 && secrets.push(s)) };
    const base = { tool: spec.name, tenantId: env.caller.tenantId, runId: env.caller.runId };
    const duration = () => Math.round(performance.now() - started);
    try {
      const used = env.caller.calls.get(spec.name) ?? 0;
      if (spec.maxCallsPerRun !== undefined && used >= spec.maxCallsPerRun) {
        throw new ToolFailure(
          `${spec.name} may be called at most ${spec.maxCallsPerRun} times in one run; this one was not done. Tell the owner what is left.`,
        );
      }
      env.caller.calls.set(spec.name, used + 1);
      const result = await spec.run(input, callEnv);
      env.log.info("agent tool call", { ...base, ok: true, duration_ms: duration(), ...result.fields });
      await recordTimeline(env, scrub(`Agent tool ${spec.name}: ${result.timeline}`));
      return { content: [{ type: "text", text: scrub(result.text) }] };
    } catch (err) {
      const expected = expectedFailureText(err);
      const message =
        expected !== null
          ? scrub(expected)
          : "The tool failed unexpectedly; the error is logged for the operator. Try again later.";
      const logged = scrub(errorMessage(err));
      env.log[expected !== null ? "info" : "error"]("agent tool call", {
        ...base,
        ok: false,
        duration_ms: duration(),
        error: logged,
      });
      await recordTimeline(env, `Agent tool ${spec.name} failed: ${expected !== null ? message : "internal error"}`);
      return { content: [{ type: "text", text: message }], isError: true };
    }
  };
  server.registerTool(
    spec.name,
    {
      title: spec.title,
      description: spec.description,
      inputSchema: spec.inputSchema,
      annotations: { readOnlyHint: spec.readOnly ?? false, openWorldHint: false },
    },
    callback as unknown as Parameters<McpServer["registerTool"]>[2],
  );
}

/**
 * The agent-facing text of an expected failure, or null for a bug. Refusals, the other modules'
 * 4xx errors (bad cron, past run_at, archived tenant…) and zod validation errors are the agent's to fix.
 */
function expectedFailureText(err: unknown): string | null {
  if (err instanceof ToolFailure || (err instanceof AppError && err.status < 500)) return err.message;
  if (err instanceof ZodError) return describeZodError(err);
  return null;
}

/** A timeline write must never turn a done action into a reported failure. */
async function recordTimeline(env: Omit<ToolEnv, "redact">, line: string): Promise<void> {
  try {
    await env.backends.appendTimeline(env.tenant, line);
  } catch (err) {
    env.log.warn("timeline append failed", { tenantId: env.caller.tenantId, error: err });
  }
}

/** Shortens text for a timeline line or a log field. */
export function excerpt(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Where a tenant's customer is reached. */
export interface TenantChat {
  channel: ChannelName;
  chatId: string;
}

/** The part of the outbox the tools use (structural, so the real outbox fits as is). */
export interface ToolOutbox {
  enqueue(message: {
    tenantId: string;
    channel: ChannelName;
    chatId: string;
    text: string;
    kind: "chat" | "system";
  }): Promise<unknown>;
  /** Stores a file to send (send_file); without it files cannot be sent from here. */
  enqueueFile?(reply: OutboundFileReply): Promise<string>;
}

/** What the tools are handed by the server wiring. */
export interface AgentToolsDeps {
  /** Sends `send_message` texts to the customer (retries and splitting are the outbox's job). */
  outbox: ToolOutbox;
  /** Woken after `schedule_task` so a task due soon is not missed until the next sanity wake. */
  scheduler?: { wake(): void };
  /** The tenant's linked chat, or null when none is linked yet. Default: `linkedChatOf`. */
  tenantChat?: (tenant: Tenant) => TenantChat | null;
}

/** Options of createAgentTools (all optional). */
export interface AgentToolsOptions {
  /** How long a token outlives the run's time limit if never revoked. Default 60 000 ms. */
  tokenMarginMs?: number;
  /** fetch used for SendGrid (tests may pass their own). Default: global fetch. */
  fetch?: typeof fetch;
  /** Time limit of one SendGrid request. Default 15 000 ms. */
  emailTimeoutMs?: number;
}

/** Where a tenant is reached: its linked Telegram chat, or its WhatsApp number (null: Telegram not linked yet). */
export function linkedChatOf(tenant: Tenant): TenantChat | null {
  if (tenant.channel === "whatsapp") return { channel: "whatsapp", chatId: tenant.phone_number };
  return tenant.telegram_chat_id ? { channel: "telegram", chatId: tenant.telegram_chat_id } : null;
}

/** What `schedule_task` hands the scheduler (exactly one of cron / run_at). */
export interface NewAgentTask {
  prompt: string;
  cron?: string;
  timezone?: string;
  /** ISO-8601 time with an offset. */
  run_at?: string;
  in_minutes?: number;
  /** Recurring: a missed slot older than this is skipped (default 3600 s; 0 = never catch up). */
  catch_up_window_s?: number;
}

/**
 * The other modules' functions the tools call, gathered in one place so the tools read as plain
 * steps and tests can see every outside effect. `createToolBackends` fills it from the real modules.
 * Every method takes the tenant id from the token; none accepts a tenant from the agent.
 */
export interface ToolBackends {
  /** The tenant row, or null when it no longer exists. */
  findTenant(tenantId: string): Promise<Tenant | null>;
  /** Creates a task with created_by = 'agent'; throws the scheduler's validation errors. */
  createTask(tenantId: string, input: NewAgentTask): Promise<TaskRow>;
  listTasks(tenantId: string, status?: TaskRow["status"]): Promise<TaskRow[]>;
  /** Cancels a task of this tenant; throws NotFoundError for any other id. */
  cancelTask(tenantId: string, taskId: string): Promise<TaskRow>;
  /** Merges these fields into tenants.business (null removes one) and re-renders CLAUDE.md. */
  updateBusiness(tenantId: string, fields: Record<string, unknown>): Promise<Tenant>;
  /** Moves the onboarding status on the agent's behalf. */
  setOnboardingStatus(tenantId: string, status: Tenant["onboarding_status"]): Promise<Tenant>;
  /** A decrypted credential of this tenant, or null when not set. */
  getCredential(tenantId: string, key: string): Promise<string | null>;
  appendTimeline(tenant: Tenant, line: string): Promise<void>;
  /** How a WhatsApp message to this chat would go now: free text, the template, or not at all (window closed). */
  whatsappSendMode(tenant: Tenant, chatId: string): Promise<WhatsAppSendMode>;
}

/** Most tasks list_tasks reads for one tenant. */
const LIST_READ_LIMIT = 1000;

/** The tools' view of the real modules; every call is scoped to the tenant id it is given. */
export function createToolBackends(ctx: AppContext): ToolBackends {
  return {
    findTenant: (tenantId) => getTenant(ctx.db, tenantId),
    createTask: (tenantId, input) => createTask(ctx, tenantId, input, "agent"),
    listTasks: (tenantId, status) =>
      listTasks(ctx.db, { tenantId, ...(status ? { status } : {}), limit: LIST_READ_LIMIT }),
    cancelTask: (tenantId, taskId) => cancelTask(ctx, taskId, { tenantId }),
    updateBusiness: (tenantId, fields) => updateTenant(ctx, tenantId, { business: fields }),
    setOnboardingStatus: (tenantId, status) => setOnboardingStatus(ctx, tenantId, status, { by: "agent" }),
    getCredential: (tenantId, key) => getCredential(ctx, tenantId, key),
    appendTimeline: async (tenant, line) => {
      await appendTimeline(ctx, tenant, line);
    },
    whatsappSendMode: (tenant, chatId) => whatsappSendMode(ctx, { tenantId: tenant.id, chatId }),
  };
}
