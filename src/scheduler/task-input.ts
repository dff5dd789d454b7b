import { z } from "zod";
import { ValidationError } from "../errors.ts";

/**
 * What a new task looks like at every boundary (admin API, MCP tool, CLI). Exactly one of
 * `cron`, `run_at` or `in_minutes` must be given; `createTask` checks that and the semantics
 * (valid pattern, known zone, future time, prompt size) and names the field when something is wrong.
 */
export const newTaskShape = {
  prompt: z.string().describe("What the agent should do when the task fires (at most 8 KiB)."),
  cron: z
    .string()
    .optional()
    .describe('Recurring schedule: 5-field cron ("0 9 * * 1-5" = weekdays 09:00) or 6 fields with seconds first.'),
  timezone: z.string().optional().describe('IANA time zone for cron and run_at without offset; default the tenant\'s.'),
  run_at: z
    .string()
    .optional()
    .describe('One-shot: ISO-8601 time ("2026-12-01T09:00:00Z", or without offset = local time in timezone).'),
  in_minutes: z.number().int().positive().max(525_600).optional().describe("One-shot: this many minutes from now."),
};
export const newTaskSchema = z.object(newTaskShape);
export type NewTaskInput = z.infer<typeof newTaskSchema>;

/** A change to an existing task: pause/resume, a new schedule, zone or prompt. */
export const taskPatchSchema = z.object({
  paused: z.boolean().optional(),
  cron: z.string().optional(),
  run_at: z.string().optional(),
  timezone: z.string().optional(),
  prompt: z.string().optional(),
});
export type TaskPatch = z.infer<typeof taskPatchSchema>;

/** Parses `input` with `schema`, turning zod's issues into one ValidationError that names each field. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const message = result.error.issues
    .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
  throw new ValidationError(message);
}
