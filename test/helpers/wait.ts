/**
 * Waits (bounded) until `check` returns something other than `undefined` or `false`, and returns it.
 * Not a timing assertion: `timeoutMs` is only an upper bound; past it, throws "timed out waiting for <what>".
 *
 *   await eventually(() => sent.length === 1, "the reply");
 *   const row = await eventually(async () => (await rows()).find((r) => r.status === "done"), "the done row");
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(intervalMs);
  }
}
