import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

/** An expected failure with a stable code and the HTTP status it maps to. */
export class AppError extends Error {
  override name = "AppError";
  /** Response headers the error handler adds (e.g. `fly-replay` on `wrong_instance`). */
  declare readonly headers?: Readonly<Record<string, string>>;
  constructor(
    readonly code: string,
    message: string,
    readonly status: ContentfulStatusCode = 400,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class NotFoundError extends AppError {
  override name = "NotFoundError";
  constructor(code: string, message: string) {
    super(code, message, 404);
  }
}

export class ConflictError extends AppError {
  override name = "ConflictError";
  constructor(code: string, message: string) {
    super(code, message, 409);
  }
}

/** Raised for bad command-line input: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export class ValidationError extends AppError {
  override name = "ValidationError";
  constructor(message: string, code = "invalid_input") {
    super(code, message, 400);
  }
}

/** The message of a thrown value: an Error's message, anything else as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One zod issue as "field.path: message" (array indexes as `items[0]`); `prefix` is put before the
 * path (a nested object parsed alone, e.g. "business"). An issue without a path is its message alone.
 */
export function describeZodIssue(issue: z.core.$ZodIssue, prefix = ""): string {
  const path = [prefix, ...issue.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p)))]
    .filter(Boolean)
    .join(".")
    .replace(/\.\[/g, "[");
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Every issue of a zod error: "field.path: message; other: message". */
export function describeZodError(err: z.ZodError, prefix = ""): string {
  return err.issues.map((issue) => describeZodIssue(issue, prefix)).join("; ");
}

/**
 * Parses `value` with `schema`; on failure throws ValidationError (`invalid_input`, 400) whose
 * message names every bad field path ("business.email: Invalid email address; timezone: …").
 */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, prefix = ""): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(describeZodError(result.error, prefix));
}
