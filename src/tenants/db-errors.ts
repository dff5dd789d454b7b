/** True when a database error (either driver, possibly wrapped by drizzle) is a UNIQUE violation. */
export function isUniqueViolation(err: unknown): boolean {
  return errorChain(err).some((e) => /UNIQUE constraint failed|SQLITE_CONSTRAINT_UNIQUE/i.test(`${e.message} ${codeOf(e)}`));
}

function errorChain(err: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = err;
  while (current instanceof Error && chain.length < 8) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

function codeOf(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : "";
}
