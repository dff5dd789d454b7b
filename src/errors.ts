import type { ContentfulStatusCode } from "hono/utils/http-status";

/** An expected failure with a stable code and the HTTP status it maps to. */
export class AppError extends Error {
  override name = "AppError";
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
