// Helpers for the recurring-task e2e tests (scheduled-cron.test.ts): tenants with a linked Telegram chat,
// tasks through the admin API, the scheduler's hand-overs read from the servers' logs, the tenant's timeline.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FakeAnthropic } from "../fakes/anthropic.ts";
import { lastPrompt, lastToolResult } from "../fakes/anthropic.ts";
import type { StackClient } from "./stack.ts";

/** Creates a telegram tenant and links `chatId` to it (operator relink, no welcome message); returns its id. */
export async function linkedTenant(stack: StackClient, name: string, phone: string, chatId: number): Promise<string> {
  const id = await stack.createTenant({ name, phone });
  const res = await stack.admin("POST", `/admin/tenants/${id}/link`, { telegram_chat_id: String(chatId) });
  if (res.status !== 200) throw new Error(`link: ${res.status} ${await res.text()}`);
  return id;
}

/** A scheduled task as the admin API shows it (the fields these tests read). */
export interface TaskView {
  id: string;
  prompt: string;
  cron: string | null;
  status: string;
  next_run_at: string | null;
  slot_at: string | null;
  last_run_at: string | null;
  created_by: string;
}

/** POST /admin/tenants/:id/tasks. */
export async function createCronTask(
  stack: StackClient,
  tenantId: string,
  prompt: string,
  cron: string,
): Promise<TaskView> {
  const res = await stack.admin("POST", `/admin/tenants/${tenantId}/tasks`, { prompt, cron });
  if (res.status !== 201) throw new Error(`create task: ${res.status} ${await res.text()}`);
  return (await res.json()) as TaskView;
}

/** GET /admin/tenants/:id/tasks. */
export async function listTenantTasks(stack: StackClient, tenantId: string): Promise<TaskView[]> {
  const res = await stack.admin("GET", `/admin/tenants/${tenantId}/tasks`);
  if (res.status !== 200) throw new Error(`list tasks: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { tasks: TaskView[] }).tasks;
}

/** DELETE /admin/tenants/:id/tasks/:taskId. */
export async function cancelTaskVia(stack: StackClient, tenantId: string, taskId: string): Promise<void> {
  const res = await stack.admin("DELETE", `/admin/tenants/${tenantId}/tasks/${taskId}`);
  if (res.status !== 200) throw new Error(`cancel task: ${res.status} ${await res.text()}`);
}

/**
 * A 6-field cron pattern firing at exactly these instants (whole seconds, all within one minute of
 * each other), e.g. "4,6,8 * * * * *": it fires again only a minute later, so a test knows every slot.
 */
export function secondsPattern(instantsMs: number[]): string {
  const seconds = [...new Set(instantsMs.map((ms) => new Date(ms).getUTCSeconds()))].sort((a, b) => a - b);
  return `${seconds.join(",")} * * * * *`;
}

/** One hand-over of a claimed slot to the conversation, as a server logged it. */
export interface HandOver {
  process: string;
  taskId: string;
  slotAt: string;
}

/** Every "task handed to conversation" line of these servers (name → stack). */
export function handOvers(servers: Record<string, StackClient>): HandOver[] {
  return Object.entries(servers).flatMap(([process, stack]) =>
    stack.server
      .logs()
      .filter((l) => l.msg === "task handed to conversation")
      .map((l) => ({ process, taskId: String(l.taskId), slotAt: String(l.slot_at) })),
  );
}

/** Main agent requests (not tool-result follow-ups) whose prompt contains `tag`. */
export function agentRunsWith(anthropic: FakeAnthropic, tag: string): number {
  return anthropic
    .messageRequests()
    .filter((r) => lastToolResult(r.body) === undefined && (lastPrompt(r.body) ?? "").includes(tag)).length;
}

/** The tenant's whole timeline (every day file), as an operator would read it. */
export function timelineText(stack: StackClient, tenantId: string): string {
  const dir = join(stack.server.tenantsDir, tenantId, "timeline");
  if (!existsSync(dir)) return "";
  return readdirSync(dir)
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("");
}
