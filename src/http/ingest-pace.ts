import type { MiddlewareHandler } from "hono";

/**
 * Webhooks that start their work in one turn of the event loop, at most; the rest wait for the next turn.
 * Under a burst (hundreds of deliveries at once) the loop would otherwise run every pending webhook before
 * the I/O of the runs under way (an agent's exit, its output, the next spawn): the agent slots stand idle
 * while the webhooks are answered. Paced, a run's next step waits for a few webhooks, not for all of them;
 * the webhooks' total work is the same.
 */
export function paceWebhooks(perTurn: number): MiddlewareHandler {
  let admitted = 0;
  let isTurnWatched = false;
  const waiting: (() => void)[] = [];
  const nextTurn = () => {
    isTurnWatched = false;
    admitted = 0;
    while (admitted < perTurn && waiting.length > 0) {
      admitted++;
      waiting.shift()?.();
    }
    if (admitted > 0) watchTurn();
  };
  const watchTurn = () => {
    if (isTurnWatched) return;
    isTurnWatched = true;
    setImmediate(nextTurn);
  };
  return async function pace(_c, next) {
    watchTurn();
    if (admitted < perTurn && waiting.length === 0) admitted++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    await next();
  };
}
