/** Options of runLoad. */
export interface LoadOptions {
  /** Stop starting new requests after this many ms (the result then counts only the requests made). Default: none. */
  stopAfterMs?: number;
}

/**
 * Sends `total` requests made by `makeRequest(i)` with `concurrency` workers (each waits for its answer before the
 * next); returns requests per second, how many were sent, and how many were not answered 2xx.
 */
export async function runLoad(
  total: number,
  concurrency: number,
  makeRequest: (i: number) => Promise<Response>,
  options: LoadOptions = {},
): Promise<{ perSecond: number; sent: number; failures: number; elapsedMs: number }> {
  let next = 0;
  let failures = 0;
  const started = performance.now();
  const deadline = options.stopAfterMs === undefined ? Number.POSITIVE_INFINITY : started + options.stopAfterMs;
  const worker = async () => {
    while (next < total && performance.now() < deadline) {
      const i = next++;
      const res = await makeRequest(i);
      await res.arrayBuffer();
      if (!res.ok) failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  return { perSecond: (next / elapsedMs) * 1000, sent: next, failures, elapsedMs };
}
