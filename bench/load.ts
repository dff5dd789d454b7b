/** Sends `total` requests made by `makeRequest(i)` with `concurrency` workers; returns requests per second. */
export async function runLoad(
  total: number,
  concurrency: number,
  makeRequest: (i: number) => Promise<Response>,
): Promise<{ perSecond: number; failures: number; elapsedMs: number }> {
  let next = 0;
  let failures = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const res = await makeRequest(i);
      await res.arrayBuffer();
      if (!res.ok) failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  return { perSecond: (total / elapsedMs) * 1000, failures, elapsedMs };
}
