import { and, count, desc, eq, gte, inArray, or, sql } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import type { DeliveryFailure } from "../conversation/index.ts";
import { appendTimeline, insertInbound, quoteForTimeline } from "../conversation/index.ts";
import type { MessageRow } from "../db/index.ts";
import { messages } from "../db/schema.ts";
import type { Tenant } from "../tenants/index.ts";
import { getTenant } from "../tenants/index.ts";
import type { SchedulerDeps, TaskReplyFailure, TaskRunResult } from "./task-runs.ts";

/** A scheduled task handed to the conversation: its id and the prompt to run. */
export interface TaskInput {
  taskId: string;
  prompt: string;
}

/** What the scheduler uses of the conversation engine's dispatcher (Conversation.dispatcher). */
export interface ConversationQueue {
  /** Looks for queued work now (a task message was just queued). */
  wake(): void;
  /** Calls `listener` with a batch's messages once its run ended (its rows done, failed, or left to the lease's next holder). */
  onBatchFinished(listener: (messages: MessageRow[]) => void): () => void;
}

/** What the scheduler uses of the outbox (Engine.outbox): the replies that failed for good. */
export interface ReplyFailures {
  onDeliveryFailed(listener: (failure: DeliveryFailure) => void): () => void;
}

/**
 * Where the scheduler meets the conversation engine, once: a due task's prompt goes into the conversation's
 * queue (same queue and lease as chat) and wakes its dispatcher; when a batch holding task messages ended,
 * the scheduler is told which tasks to look at and reads each run's outcome from `messages`
 * (findTaskRunResult, as recovery does). Timeline notes go to the tenant's timeline. With the outbox, a task's
 * reply that fails for good after its outcome was applied still reaches the task row (onTaskRepliesFailed).
 */
export function conversationTaskDeps(ctx: AppContext, queue: ConversationQueue, outbox?: ReplyFailures): SchedulerDeps {
  return {
    async enqueueTask(tenant, task) {
      const id = await insertTaskMessage(ctx, tenant, task);
      queue.wake();
      return id;
    },
    async appendTimeline(tenantId, line) {
      const tenant = await getTenant(ctx.db, tenantId);
      if (tenant) await appendTimeline(ctx, tenant, line);
    },
    isTaskMessageOpen: (taskId, tenantId) => isTaskMessageOpen(ctx, taskId, tenantId),
    findTaskRunResult: (taskId, since, tenantId) => findTaskRunResult(ctx, taskId, since, tenantId),
    countTaskRunsSince: (tenantId, since) => countTaskRunsSince(ctx, tenantId, since),
    onTaskRunsEnded(listener) {
      return queue.onBatchFinished((rows) => {
        const taskIds = rows.flatMap((row) => (row.kind === "task" && row.task_id ? [row.task_id] : []));
        if (taskIds.length > 0) listener(taskIds);
      });
    },
    ...(outbox
      ? {
          onTaskRepliesFailed(listener: (failures: TaskReplyFailure[]) => void) {
            return outbox.onDeliveryFailed((failure) => {
              taskReplyFailures(ctx, failure)
                .then((found) => found.length > 0 && listener(found))
                .catch((err: unknown) =>
                  ctx.log.warn("task of a failed reply not found", { messageId: failure.messageId, error: err }),
                );
            });
          },
        }
      : {}),
  };
}

/** What a task row's last_error says about a reply of its run that the outbox could not deliver. */
export function replyNotDelivered(error: string): string {
  return `reply not delivered: ${error}`;
}

/**
 * The tasks whose run a failed outbound row answered: the message it replies to, and every task message
 * of that batch (one run answers them all with one reply to the last; a batch's rows share processed_at).
 * Empty for other rows. Only on a failure, so a walk over the tenant's rows is fine.
 */
async function taskReplyFailures(ctx: Pick<AppContext, "db">, failure: DeliveryFailure): Promise<TaskReplyFailure[]> {
  const rows = await ctx.db.all<{ task_id: string; created_at: string }>(sql`
    SELECT b.task_id, b.created_at FROM ${messages} r JOIN ${messages} b
      ON b.tenant_id = r.tenant_id AND b.direction = 'in' AND b.kind = 'task' AND b.task_id IS NOT NULL
     AND (b.id = r.id OR (r.processed_at IS NOT NULL AND b.processed_at = r.processed_at))
    WHERE r.id = (SELECT reply_to FROM ${messages} WHERE id = ${failure.messageId}) AND r.direction = 'in'`);
  return rows.map((row) => ({ taskId: row.task_id, since: row.created_at, error: replyNotDelivered(failure.error) }));
}

/**
 * Queues a scheduled task as a kind='task' message of the tenant, in the same queue and under the
 * same lease as chat (so it never runs beside a chat turn). The reply goes to the tenant's chat:
 * Telegram's linked chat or the WhatsApp number (empty when none is linked: the task still runs).
 * Returns the message id; the caller wakes the dispatcher.
 */
export async function insertTaskMessage(
  ctx: AppContext,
  tenant: Pick<Tenant, "id" | "channel" | "telegram_chat_id" | "phone_number" | "timezone">,
  task: TaskInput,
): Promise<string> {
  const chatId = tenant.channel === "telegram" ? (tenant.telegram_chat_id ?? "") : tenant.phone_number;
  const id = crypto.randomUUID();
  await insertInbound(ctx.db, {
    id,
    tenant_id: tenant.id,
    channel: tenant.channel,
    chat_id: chatId,
    external_id: null,
    kind: "task",
    sender: "scheduler",
    body: task.prompt,
    status: "queued",
    task_id: task.taskId,
    created_at: isoAt(ctx.clock.now()),
  });
  ctx.log.info("task queued", { tenantId: tenant.id, taskId: task.taskId, messageId: id, hasChat: chatId !== "" });
  await appendTimeline(
    ctx,
    tenant,
    `⏰ scheduled task ${task.taskId.slice(0, 8)} due: ${quoteForTimeline(task.prompt, 200)}`,
  );
  return id;
}

/**
 * True while a message of this task is queued or being run (the scheduler then keeps its claim).
 * With the task's tenant the lookup stays on that tenant's rows (messages_tenant_status_idx).
 */
export async function isTaskMessageOpen(
  ctx: Pick<AppContext, "db">,
  taskId: string,
  tenantId?: string,
): Promise<boolean> {
  const rows = await ctx.db
    .select({ id: messages.id })
    .from(messages)
    .where(and(...taskMessages(taskId, tenantId), inArray(messages.status, ["queued", "processing"])))
    .limit(1);
  return rows.length > 0;
}

/**
 * How this task's message queued at or after `since` ended, when the dispatcher finished it: done → ok,
 * failed → its error; null while none has finished. Lets the scheduler count a slot as run when the process
 * that ran it died before reporting the result, instead of running the slot twice. With the task's tenant the
 * lookup is a range on that tenant's rows since the slot (messages_tenant_created_idx), not a walk over every message.
 */
export async function findTaskRunResult(
  ctx: Pick<AppContext, "db">,
  taskId: string,
  since: string,
  tenantId?: string,
): Promise<TaskRunResult | null> {
  const [row] = await ctx.db
    .select({ id: messages.id, status: messages.status, error: messages.error, processed_at: messages.processed_at })
    .from(messages)
    .where(and(...taskMessages(taskId, tenantId), gte(messages.created_at, since)))
    .orderBy(desc(messages.created_at))
    .limit(1);
  if (row?.status === "done") {
    const failed = await failedReplyError(ctx, row, tenantId, since);
    return failed === null ? { ok: true } : { ok: true, deliveryError: replyNotDelivered(failed) };
  }
  if (row?.status === "failed") return { ok: false, error: row.error ?? "failed" };
  return null;
}

/**
 * How many scheduled-task runs (kind='task' messages, retries included) the tenant has had queued since `since`:
 * the scheduler's daily cap. A range on the tenant's rows (messages_tenant_created_idx).
 */
export async function countTaskRunsSince(
  ctx: Pick<AppContext, "db">,
  tenantId: string,
  since: string,
): Promise<number> {
  const [row] = await ctx.db
    .select({ n: count() })
    .from(messages)
    .where(
      and(
        eq(messages.tenant_id, tenantId),
        gte(messages.created_at, since),
        eq(messages.direction, "in"),
        eq(messages.kind, "task"),
      ),
    );
  return row?.n ?? 0;
}

/**
 * The error of a reply of this message's run that already failed for good in the outbox, or null: a reply
 * to the message itself, or to another message of its batch (same processed_at; a run answers its batch once,
 * replying to the last). With the tenant, a range on its rows since the run's message (messages_tenant_created_idx).
 */
async function failedReplyError(
  ctx: Pick<AppContext, "db">,
  message: { id: string; processed_at: string | null },
  tenantId: string | undefined,
  since: string,
): Promise<string | null> {
  const sameBatch = message.processed_at
    ? sql`EXISTS (SELECT 1 FROM ${messages} m WHERE m.id = ${messages.reply_to} AND m.direction = 'in' AND m.processed_at = ${message.processed_at})`
    : sql`0`;
  const [row] = await ctx.db
    .select({ error: messages.error })
    .from(messages)
    .where(
      and(
        ...(tenantId ? [eq(messages.tenant_id, tenantId), gte(messages.created_at, since)] : []),
        eq(messages.direction, "out"),
        eq(messages.status, "failed"),
        or(eq(messages.reply_to, message.id), sameBatch),
      ),
    )
    .limit(1);
  return row ? (row.error ?? "failed") : null;
}

/** The inbound messages of one task, narrowed to its tenant's rows (and index) when the tenant is known. */
function taskMessages(taskId: string, tenantId: string | undefined) {
  return [
    ...(tenantId ? [eq(messages.tenant_id, tenantId)] : []),
    eq(messages.direction, "in"),
    eq(messages.task_id, taskId),
  ];
}
