import type { TaskRow } from "../../db/schema.ts";
import type { Tenant } from "../../tenants/index.ts";

/** What `schedule_task` hands the scheduler (exactly one of cron / run_at). */
export interface NewAgentTask {
  prompt: string;
  cron?: string;
  timezone?: string;
  /** ISO-8601 time with an offset. */
  run_at?: string;
  in_minutes?: number;
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
}
