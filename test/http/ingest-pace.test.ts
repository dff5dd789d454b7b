import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { paceWebhooks } from "../../src/http/ingest-pace.ts";

const nextTurnOfLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An app whose webhook route records in which turn of the event loop each request started its work. */
function pacedApp(perTurn: number) {
  let turn = 0;
  let isCounting = true;
  const countTurns = () => {
    if (!isCounting) return;
    turn++;
    setImmediate(countTurns);
  };
  setImmediate(countTurns);
  const startedIn: number[] = [];
  const app = new Hono();
  app.use("/webhooks/*", paceWebhooks(perTurn));
  app.post("/webhooks/test", (c) => {
    startedIn.push(turn);
    return c.json({ ok: true });
  });
  app.get("/other", (c) => {
    startedIn.push(turn);
    return c.json({ ok: true });
  });
  return { app, startedIn, stop: () => (isCounting = false) };
}

describe("paceWebhooks", () => {
  test("a burst starts at most perTurn webhooks per turn of the event loop, in arrival order, and all are answered", async () => {
    const { app, startedIn, stop } = pacedApp(3);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => app.request("/webhooks/test", { method: "POST" })),
    );
    stop();
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    const perTurn = new Map<number, number>();
    for (const turn of startedIn) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
    expect([...perTurn.values()]).toEqual([3, 3, 3, 1]); // four turns, never more than 3 in one
    expect(startedIn).toEqual([...startedIn].sort((a, b) => a - b));
  });

  test("a lone webhook starts at once; other routes are never paced", async () => {
    const { app, startedIn, stop } = pacedApp(1);
    await nextTurnOfLoop();
    await app.request("/webhooks/test", { method: "POST" });
    const first = startedIn[0];
    await Promise.all(Array.from({ length: 5 }, () => app.request("/other")));
    stop();
    expect(startedIn.slice(1)).toEqual(Array(5).fill(first)); // /other: all five in the same turn
  });

  test("a webhook whose handler throws frees its place: the ones behind it still run", async () => {
    const app = new Hono();
    app.use("/webhooks/*", paceWebhooks(1));
    app.onError((_err, c) => c.json({ error: "failed" }, 500));
    let calls = 0;
    app.post("/webhooks/test", (c) => {
      calls++;
      if (calls === 1) throw new Error("boom");
      return c.json({ ok: true });
    });
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => app.request("/webhooks/test", { method: "POST" })),
    );
    expect(answers.map((r) => r.status)).toEqual([500, 200, 200, 200]);
  });
});
