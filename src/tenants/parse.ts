import type { z } from "zod";
import { ValidationError } from "../errors.ts";

/**
 * Parses `value` with `schema`; on failure throws ValidationError (`invalid_input`, 400) whose
 * message names every bad field path ("business.email: Invalid email address; timezone: …").
 */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, prefix = ""): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const message = result.error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
  throw new ValidationError(message);
}
