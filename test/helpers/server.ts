import type { RouteModule, ServerPart } from "../../src/ports.ts";
import type { RunningServer, ServerBuilder } from "../../src/serve.ts";
import { startServer } from "../../src/serve.ts";
import type { TestContext, TestContextOptions } from "./context.ts";
import { createTestContext } from "./context.ts";

export interface TestServer extends TestContext {
  server: RunningServer;
  /** http://127.0.0.1:<port> */
  url: string;
  /** fetch(url + path) with the admin key unless `admin: false`. */
  adminFetch(path: string, init?: RequestInit): Promise<Response>;
}

export interface StartTestServerOptions extends TestContextOptions {
  /** What the server wires (default: nothing but /health and the admin 404). Pass src/parts.ts's buildServerParts for the real thing. */
  build?: ServerBuilder;
  /** Shorthand for a build that only adds these routes. */
  routes?: RouteModule[];
}

/**
 * An in-process server on 127.0.0.1, port 0, over a fresh test context (see createTestContext).
 * `cleanup()` shuts it down gracefully and removes the temp dir.
 *
 *   const t = await startTestServer({ routes: [myRoutes] });
 *   try { const res = await t.adminFetch("/admin/tenants"); … } finally { await t.cleanup(); }
 */
export async function startTestServer(options: StartTestServerOptions = {}): Promise<TestServer> {
  const test = await createTestContext(options);
  const routes = options.routes ?? [];
  const build: ServerBuilder = options.build ?? (async () => routes.map((r): ServerPart => ({ routes: r })));
  const server = await startServer(test.ctx, build);
  const url = `http://127.0.0.1:${server.server.port}`;
  return {
    ...test,
    server,
    url,
    adminFetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${test.ctx.config.ADMIN_API_KEY}`);
      return fetch(`${url}${path}`, { ...init, headers });
    },
    async cleanup() {
      await server.shutdown();
      await test.cleanup();
    },
  };
}
