import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ZodError } from "zod";
import type { z } from "zod";
import type { AppContext } from "../../context.ts";
import { AppError } from "../../errors.ts";
import type { LogFields, Logger } from "../../log.ts";
import type { Tenant } from "../../tenants/index.ts";
import type { ToolBackends } from "./backends.ts";
import type { SendgridClientOptions } from "./sendgrid.ts";
import type { ToolCaller } from "./tokens.ts";
import type { AgentToolsDeps } from "./types.ts";

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
    const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join("[redacted]"), text);
    const callEnv: ToolEnv = { ...env, redact: (s) => void (s.length > 0 && secrets.push(s)) };
    const base = { tool: spec.name, tenantId: env.caller.tenantId, runId: env.caller.runId };
    const duration = () => Math.round(performance.now() - started);
    try {
      const used = env.caller.calls.get(spec.name) ?? 0;
      if (spec.maxCallsPerRun !== undefined && used >= spec.maxCallsPerRun) {
        throw new ToolFailure(`${spec.name} may be called at most ${spec.maxCallsPerRun} times in one run; this one was not done. Tell the owner what is left.`);
      }
      env.caller.calls.set(spec.name, used + 1);
      const result = await spec.run(input, callEnv);
      env.log.info("agent tool call", { ...base, ok: true, duration_ms: duration(), ...result.fields });
      await recordTimeline(env, scrub(`Agent tool ${spec.name}: ${result.timeline}`));
      return { content: [{ type: "text", text: scrub(result.text) }] };
    } catch (err) {
      const expected = expectedFailureText(err);
      const message = expected !== null ? scrub(expected) : "The tool failed unexpectedly; the error is logged for the operator. Try again later.";
      const logged = err instanceof Error ? scrub(err.message) : scrub(String(err));
      env.log[expected !== null ? "info" : "error"]("agent tool call", { ...base, ok: false, duration_ms: duration(), error: logged });
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
  if (err instanceof ZodError) {
    return err.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
  }
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
