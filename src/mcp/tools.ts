import { z } from "zod";
import { isoAt } from "../clock.ts";
import type { TaskRow } from "../db/schema.ts";
import { ONBOARDING_STATUSES, TASK_STATUSES } from "../db/schema.ts";
import { NotFoundError } from "../errors.ts";
import { defineTool, excerpt, linkedChatOf, ToolFailure } from "./tool-kit.ts";

/** Longest text one send_message call takes (the outbox splits it to the channel's limit). */
const MAX_MESSAGE_CHARS = 4000;

export const sendMessageTool = defineTool({
  name: "send_message",
  title: "Message the customer now",
  maxCallsPerRun: 20,
  description:
    "Send a message to the business owner's chat right now, while you keep working (e.g. \"On it — this takes a " +
    'minute"). Your final answer is sent anyway; do not repeat it here.',
  inputSchema: {
    text: z
      .string()
      .trim()
      .min(1, "text must not be empty")
      .max(MAX_MESSAGE_CHARS, `text must be at most ${MAX_MESSAGE_CHARS} characters`)
      .describe("The message, plain text."),
  },
  async run(input, env) {
    const chat = (env.deps.tenantChat ?? linkedChatOf)(env.tenant);
    if (!chat) {
      throw new ToolFailure(
        "This business has no linked chat yet, so nothing can be sent now. Put it in your answer instead.",
      );
    }
    const mode = chat.channel === "whatsapp" ? await env.backends.whatsappSendMode(env.tenant, chat.chatId) : null;
    await env.deps.outbox.enqueue({
      tenantId: env.caller.tenantId,
      channel: chat.channel,
      chatId: chat.chatId,
      text: input.text,
      kind: "chat",
    });
    if (mode?.mode === "closed") {
      // Stored (the text is kept, the row is marked failed by the outbox) so the operator sees what was meant.
      throw new ToolFailure(
        "Not delivered (outside_whatsapp_window): the customer last wrote more than 24 hours ago, and WhatsApp only " +
          "accepts a business's free-form messages within 24 hours of the customer's last message. No WhatsApp " +
          "template (WHATSAPP_TEMPLATE_SID) is set up for this business, so nothing can reach them until they write " +
          "again. Tell the operator if this matters.",
      );
    }
    return {
      text:
        mode?.mode === "template"
          ? "Queued for delivery. The customer last wrote more than 24 hours ago, so it goes as the business's approved WhatsApp template (text flattened to one line, at most 255 characters per message)."
          : "Queued for delivery to the customer's chat.",
      timeline: `sent a message: "${excerpt(input.text)}"`,
      fields: { channel: chat.channel, chars: input.text.length, ...(mode ? { whatsappMode: mode.mode } : {}) },
    };
  },
});

const fieldName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "field names are lower_snake_case, up to 64 characters");
const fieldValue = z.union([
  z.string().max(2000, "a text value is at most 2000 characters"),
  z.number(),
  z.boolean(),
  z.array(z.string().max(500)).max(50),
  z.null(),
]);

export const updateBusinessProfileTool = defineTool({
  name: "update_business_profile",
  title: "Update the business profile",
  description:
    "Save what you learned about the business. The fields are merged into the profile (other fields stay); a null " +
    "value removes a field. Your standing instructions (CLAUDE.md) are re-written from it. Common fields: industry, " +
    "location, hours, services, email (the address emails are sent from), phone, website, owner_name, notes. " +
    'Example: {"fields":{"industry":"bakery","hours":"Tue-Sat 7-15"}}.',
  inputSchema: {
    fields: z
      .record(fieldName, fieldValue)
      .refine((f) => Object.keys(f).length > 0, "give at least one field")
      .refine((f) => Object.keys(f).length <= 30, "at most 30 fields per call")
      .describe("Profile fields to set (null removes one)."),
  },
  async run(input, env) {
    const email = input.fields.email;
    if (typeof email === "string" && !z.email().safeParse(email).success) {
      throw new ToolFailure(`email must be an email address (got "${email}").`);
    }
    const updated = await env.backends.updateBusiness(env.caller.tenantId, input.fields);
    const changed = Object.keys(input.fields);
    return {
      text: `Saved. The business profile is now:\n${JSON.stringify(updated.business, null, 2)}`,
      timeline: `updated the business profile (${changed.join(", ")})`,
      fields: { changed },
    };
  },
});

export const setOnboardingStatusTool = defineTool({
  name: "set_onboarding_status",
  title: "Move onboarding forward",
  description:
    "Record that discovery is finished: move the business from DISCOVERY to BUILDING. LIVE and PAUSED are set by " +
    "the operator only; when you are ready to go live, tell the owner and the operator.",
  inputSchema: {
    status: z.enum(ONBOARDING_STATUSES).describe("The new status; the agent may only set BUILDING (from DISCOVERY)."),
  },
  async run(input, env) {
    const current = env.tenant.onboarding_status;
    if (input.status === current) {
      return {
        text: `The status is already ${current}; nothing changed.`,
        timeline: `onboarding status already ${current}`,
      };
    }
    if (input.status === "LIVE" || input.status === "PAUSED") {
      throw new ToolFailure(
        `Only the operator can set ${input.status}. Tell the owner what is ready; the operator switches the business ${input.status === "LIVE" ? "live" : "to paused"}.`,
      );
    }
    if (!(current === "DISCOVERY" && input.status === "BUILDING")) {
      throw new ToolFailure(
        `The agent may only move DISCOVERY → BUILDING; the status is ${current}, so ask the operator.`,
      );
    }
    await env.backends.setOnboardingStatus(env.caller.tenantId, "BUILDING");
    return { text: "Onboarding status is now BUILDING.", timeline: "moved onboarding DISCOVERY → BUILDING" };
  },
});

/** Longest prompt a task may carry (the scheduler enforces the same limit in bytes). */
const MAX_PROMPT_CHARS = 8192;
/** Furthest ahead `in_minutes` may reach: one year. */
const MAX_IN_MINUTES = 525_600;
/** Most tasks list_tasks returns at once. */
const LIST_LIMIT = 100;

export const scheduleTaskTool = defineTool({
  name: "schedule_task",
  title: "Schedule a task",
  maxCallsPerRun: 20,
  description:
    "Schedule work for later. When it is due you are run with `prompt` as the message and your answer goes to the " +
    "customer's chat. Give exactly one of: `cron` (recurring, optional `timezone`, default the business's zone), " +
    "`run_at` (one time, ISO-8601 such as 2026-12-01T09:00:00-07:00) or `in_minutes` (one time, minutes from now). " +
    'Example: {"prompt":"Remind the owner to order milk","cron":"0 9 * * 1-5"} = weekdays at 09:00. ' +
    "Limits (defaults; a refusal says the actual ones): a recurring task runs at most once every 5 minutes, and at most 100 of your tasks may be waiting; " +
    "the business has a daily limit of task runs (runs past it move to the next day).",
  inputSchema: {
    prompt: z
      .string()
      .trim()
      .min(1, "prompt must say what to do when the task runs")
      .max(MAX_PROMPT_CHARS, `prompt must be at most ${MAX_PROMPT_CHARS} characters`)
      .describe("What to do when the task runs, written as an instruction to yourself."),
    cron: z
      .string()
      .trim()
      .min(1)
      .optional()
      .describe("Cron pattern (5 fields, or 6 with seconds), e.g. '0 9 * * 1-5'."),
    timezone: z
      .string()
      .trim()
      .min(1)
      .optional()
      .describe("IANA time zone such as 'America/Denver'; default the business's."),
    run_at: z.string().trim().min(1).optional().describe("One-time run: ISO-8601 date and time, with an offset."),
    in_minutes: z
      .number()
      .int("in_minutes must be a whole number")
      .min(1, "in_minutes must be at least 1")
      .max(MAX_IN_MINUTES, `in_minutes must be at most ${MAX_IN_MINUTES} (one year)`)
      .optional()
      .describe("One-time run this many minutes from now."),
    catch_up_window_s: z
      .number()
      .int("catch_up_window_s must be a whole number of seconds")
      .min(0, "catch_up_window_s must be at least 0")
      .max(604_800, "catch_up_window_s must be at most 604800 (7 days)")
      .optional()
      .describe(
        "Recurring only: if the server was down at a run time, run late only when that time is at most this many " +
          "seconds ago, else skip to the next one (default 3600; 0 = never run late). E.g. 0 for a 9 am reminder that is useless at noon.",
      ),
  },
  async run(input, env) {
    const given = (["cron", "run_at", "in_minutes"] as const).filter((k) => input[k] !== undefined);
    if (given.length !== 1) {
      throw new ToolFailure(
        given.length === 0
          ? "Say when: give exactly one of cron (recurring), run_at (ISO time) or in_minutes."
          : `Give exactly one of cron, run_at or in_minutes (got ${given.join(" and ")}).`,
      );
    }
    const runAt =
      input.in_minutes !== undefined ? isoAt(env.ctx.clock.now() + input.in_minutes * 60_000) : input.run_at;
    const task = await env.backends.createTask(env.caller.tenantId, {
      prompt: input.prompt,
      ...(input.cron !== undefined ? { cron: input.cron } : {}),
      ...(runAt !== undefined ? { run_at: runAt } : {}),
      ...(input.timezone !== undefined ? { timezone: input.timezone } : {}),
      ...(input.catch_up_window_s !== undefined ? { catch_up_window_s: input.catch_up_window_s } : {}),
    });
    env.deps.scheduler?.wake();
    const when = describeSchedule(task);
    return {
      text: `Scheduled task ${task.id}: ${when}; next run ${task.next_run_at ?? "none"}. Cancel it with cancel_task if plans change.`,
      timeline: `scheduled task ${task.id} (${when}): "${excerpt(task.prompt)}"`,
      fields: { taskId: task.id, cron: task.cron, next_run_at: task.next_run_at },
    };
  },
});

export const listTasksTool = defineTool({
  name: "list_tasks",
  title: "List scheduled tasks",
  description:
    "List this business's scheduled tasks (yours and the operator's). Default: upcoming ones (PENDING and RUNNING); " +
    "pass status to see others, or ALL.",
  readOnly: true,
  inputSchema: {
    status: z
      .enum([...TASK_STATUSES, "ALL"])
      .optional()
      .describe("PENDING, RUNNING, DONE, FAILED, CANCELLED or ALL."),
  },
  async run(input, env) {
    const status = input.status;
    const rows =
      status === undefined || status === "ALL"
        ? await env.backends.listTasks(env.caller.tenantId)
        : await env.backends.listTasks(env.caller.tenantId, status);
    const wanted = status === undefined ? rows.filter((t) => t.status === "PENDING" || t.status === "RUNNING") : rows;
    const shown = wanted.slice(0, LIST_LIMIT).map(presentTask);
    const more = wanted.length > LIST_LIMIT ? ` (first ${LIST_LIMIT} of ${wanted.length})` : "";
    return {
      text:
        shown.length === 0 ? "No tasks match." : `${shown.length} task(s)${more}:\n${JSON.stringify(shown, null, 2)}`,
      timeline: `listed ${shown.length} task(s)`,
      fields: { count: wanted.length },
    };
  },
});

export const cancelTaskTool = defineTool({
  name: "cancel_task",
  title: "Cancel a scheduled task",
  description: "Cancel one of this business's scheduled tasks by its id (see list_tasks). It will not run again.",
  inputSchema: {
    task_id: z.string().trim().min(1, "task_id is required (see list_tasks)").max(100).describe("The task's id."),
  },
  async run(input, env) {
    let task: TaskRow;
    try {
      task = await env.backends.cancelTask(env.caller.tenantId, input.task_id);
    } catch (err) {
      // Another tenant's id reads exactly like an unknown one: nothing about it is revealed.
      if (err instanceof NotFoundError)
        throw new ToolFailure(`No such task: ${input.task_id}. Use list_tasks to see this business's tasks.`);
      throw err;
    }
    return {
      text: `Cancelled task ${task.id} (${describeSchedule(task)}).`,
      timeline: `cancelled task ${task.id}: "${excerpt(task.prompt)}"`,
      fields: { taskId: task.id },
    };
  },
});

function describeSchedule(task: TaskRow): string {
  return task.cron
    ? `recurring "${task.cron}" in ${task.timezone}`
    : `once at ${task.run_at ?? task.next_run_at ?? "?"}`;
}

function presentTask(task: TaskRow) {
  return {
    id: task.id,
    prompt: task.prompt,
    schedule: describeSchedule(task),
    next_run_at: task.next_run_at,
    status: task.status,
    paused: task.paused,
    created_by: task.created_by,
    attempts: task.attempts,
    last_error: task.last_error,
    catch_up_window_s: task.catch_up_window_s,
  };
}
