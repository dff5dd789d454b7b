import type { Hono } from "hono";

/**
 * The shared interface types through which domain modules plug into a running server: the routes they
 * add, the loops they run, the fields they add to /health. This file imports nothing of ours, so a
 * domain module depends on these shapes and never on the HTTP server or the wiring that implement them.
 */

/** Something with a lifecycle that `serve` starts after the HTTP server and stops before it. */
export interface Service {
  name: string;
  /** Starts the loop; `listening` says where this server answers (the real port, also when PORT=0). */
  start(listening?: ListeningInfo): Promise<void> | void;
  /** Stops taking new work and lets in-flight work finish. */
  stop(): Promise<void> | void;
}

/** Where the HTTP server listens, for services that hand the server's own URL on (the agent's MCP endpoint). */
export interface ListeningInfo {
  port: number;
}

/** Routes a module adds to the app: webhooks, admin routes, /mcp, /metrics. */
export interface RouteModule {
  /** Mounted on the root app, before the 404 handler. */
  mount(app: Hono, admin: Hono): void;
}

/** What one module adds to a running server. */
export interface ServerPart {
  routes?: RouteModule;
  services?: Service[];
}

/** One module's contribution to GET /health: extra fields, and whether it makes the service degraded. */
export interface HealthPart {
  fields: Record<string, unknown>;
  degraded?: boolean;
}

export type HealthContributor = () => HealthPart | Promise<HealthPart>;
