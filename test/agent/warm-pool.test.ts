// Issue 14: the warm pool's bookkeeping (LRU bound, idle timeout on a fake clock, paused tenants, stop) with
// stand-in processes; the real CLI's behaviour is in warm-runner.test.ts.
import { describe, expect, test } from "bun:test";
import { WarmPool } from "../../src/agent/warm-pool.ts";
import { WarmProcess } from "../../src/agent/warm-process.ts";
import { createLogger } from "../../src/log.ts";
import { FakeClock } from "../helpers/index.ts";

/** A process that lives until its stdin is closed or its group is killed. */
function fakeProcess(tenantId: string, pid: number, disposed: string[]): WarmProcess {
  let exit: (value: { exitCode: number | null; signal: string | null }) => void = () => {};
  const exited = new Promise<{ exitCode: number | null; signal: string | null }>((resolve) => (exit = resolve));
  const idle = () => new ReadableStream<Uint8Array>({ start: (c) => void exited.then(() => c.close()) });
  return new WarmProcess({
    tenantId,
    child: {
      pid,
      stdout: idle(),
      stderr: idle(),
      exited,
      input: { write: () => {}, end: () => exit({ exitCode: 0, signal: null }) },
      killGroup: (signal) => exit({ exitCode: null, signal }),
    },
    fingerprint: "f",
    killGraceMs: 1000,
    stderrLimitBytes: 1024,
    resources: {
      dispose: () => disposed.push(tenantId),
      renew: () => {},
      memoryLimited: false,
      limitHit: () => null,
      secrets: [],
    },
    onExit: () => {},
  });
}

function setup(max: number) {
  const clock = new FakeClock(0);
  const lines: string[] = [];
  const pool = new WarmPool({
    max,
    idleMs: 600_000,
    clock,
    log: createLogger({ level: "debug", write: (l) => lines.push(l) }),
  });
  const disposed: string[] = [];
  // pids of this test process's own (live) pid keep the /proc liveness check happy
  const spawn = (tenantId: string) => {
    const proc = fakeProcess(tenantId, process.pid, disposed);
    pool.add(proc);
    return proc;
  };
  const reasons = () => lines.map((l) => JSON.parse(l) as { tenantId?: string; reason?: string });
  return { clock, pool, disposed, spawn, reasons };
}

describe("warm pool", () => {
  test("at most `max` processes; the least recently used idle one is retired for a newcomer", async () => {
    const { pool, spawn, disposed, reasons } = setup(2);
    pool.release(spawn("a"));
    pool.release(spawn("b"));
    const a = pool.take("a"); // a is now the most recently used
    expect(a?.tenantId).toBe("a");
    pool.release(a!);
    expect(pool.makeRoom("c")).toBe(true);
    spawn("c");
    expect(pool.size).toBe(2);
    expect(pool.take("b")).toBeNull();
    await pool.stop();
    expect(disposed).toContain("b");
    expect(reasons().find((r) => r.tenantId === "b")?.reason).toBe("evicted");
  });

  test("no room while every process is busy: the turn goes cold; a busy process is never handed out twice", async () => {
    const { pool, spawn } = setup(1);
    spawn("a"); // busy with its first turn
    expect(pool.take("a")).toBeNull();
    expect(pool.makeRoom("b")).toBe(false);
    await pool.stop();
  });

  test("idle timeout on the pool's clock: retired at AGENT_WARM_IDLE_MS, not before", async () => {
    const { pool, spawn, clock, disposed } = setup(4);
    pool.release(spawn("a"));
    clock.advance(599_999);
    pool.sweep();
    expect(pool.size).toBe(1);
    clock.advance(1);
    pool.sweep();
    expect(pool.size).toBe(0);
    await pool.stop();
    expect(disposed).toEqual(["a"]);
  });

  test("a paused or archived tenant's idle process is retired by the periodic check; a busy one is left to its turn", async () => {
    const { pool, spawn, reasons } = setup(4);
    pool.release(spawn("paused"));
    spawn("busy-paused");
    pool.release(spawn("live"));
    pool.setStaleCheck(async (procs) =>
      procs
        .filter((p) => p.tenantId !== "live")
        .map((p) => ({ tenantId: p.tenantId, reason: "tenant_stopped" as const })),
    );
    await pool.retireStale();
    expect(pool.take("paused")).toBeNull();
    expect(pool.take("live")?.tenantId).toBe("live");
    expect(pool.size).toBe(2);
    expect(reasons().find((r) => r.tenantId === "paused")?.reason).toBe("tenant_stopped");
    await pool.stop();
  });

  test("stop ends every process (busy ones too) and releases what they held; nothing joins afterwards", async () => {
    const { pool, spawn, disposed } = setup(4);
    pool.release(spawn("a"));
    spawn("b");
    await pool.stop();
    expect(disposed.sort()).toEqual(["a", "b"]);
    expect(pool.size).toBe(0);
    expect(pool.makeRoom("c")).toBe(false);
  });
});
