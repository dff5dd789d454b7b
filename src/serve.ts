import type { Server } from "bun";
import type { AppContext } from "./context.ts";
import { createApp } from "./http/app.ts";
import { HealthRegistry } from "./http/health.ts";
import { MOVE_MAX_BYTES } from "./ops/tenant-files.ts";
import type { ServerPart } from "./ports.ts";

/** Wires every module of a running server together (src/parts.ts is the real one; tests pass their own). */
export type ServerBuilder = (ctx: AppContext, health: HealthRegistry) => Promise<ServerPart[]>;

export interface RunningServer {
  server: Server<unknown>;
  url: string;
  /** Graceful stop: no new requests, in-flight ones finish (bounded), services stop, database closes. */
  shutdown(): Promise<void>;
}

/** How long shutdown waits for in-flight requests before cutting them. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** Starts HTTP and every service; returns a handle whose shutdown() undoes it in reverse. */
export async function startServer(ctx: AppContext, build: ServerBuilder): Promise<RunningServer> {
  const health = new HealthRegistry();
  const parts = await build(ctx, health);
  const app = createApp(ctx, {
    health,
    modules: parts.flatMap((p) => (p.routes ? [p.routes] : [])),
  });
  const server = Bun.serve({
    port: ctx.config.PORT,
    hostname: ctx.config.HOST,
    fetch: app.fetch,
    idleTimeout: 60,
    // Every route but a moved tenant's files is held to MAX_BODY_BYTES by the app; those have their own bound.
    maxRequestBodySize: MOVE_MAX_BYTES,
  });
  const url = `http://${server.hostname}:${server.port}`;
  const services = parts.flatMap((p) => p.services ?? []);
  for (const service of services) await service.start({ port: server.port ?? ctx.config.PORT });
  ctx.log.info("listening", { url, port: server.port });

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      ctx.log.info("shutting down");
      const drained = server.stop(false);
      const timedOut = await Promise.race([drained.then(() => false), Bun.sleep(SHUTDOWN_GRACE_MS).then(() => true)]);
      if (timedOut) {
        ctx.log.warn("in-flight requests cut after grace period", { grace_ms: SHUTDOWN_GRACE_MS });
        await server.stop(true);
      }
      for (const service of [...services].reverse()) await service.stop();
      await ctx.database.close();
      ctx.log.info("stopped");
    })());
  return { server, url, shutdown };
}

/**
 * `proxystaff serve`: starts the server and runs it until SIGTERM or SIGINT, then shuts down
 * gracefully and resolves (the caller exits 0). A second signal during shutdown is not caught, so
 * it ends the process at once. Unhandled promise rejections are logged (redacted) instead of
 * killing every tenant's conversation; an uncaught exception is logged and exits 1.
 */
export async function serveUntilSignal(ctx: AppContext, build: ServerBuilder): Promise<void> {
  const onRejection = (reason: unknown) => ctx.log.error("unhandled rejection", { error: reason });
  // A throw nobody caught leaves the process in an unknown state: log it (redacted, unlike the
  // runtime's own report) and exit non-zero so the supervisor restarts a clean process.
  const onException = (err: Error) => {
    ctx.log.error("uncaught exception", { error: err, stack: err.stack });
    process.exit(1);
  };
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  const running = await startServer(ctx, build);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      ctx.log.info("signal received", { signal });
      void running.shutdown().then(resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  process.off("unhandledRejection", onRejection);
  process.off("uncaughtException", onException);
}
