// The operator console at /console: server-rendered pages (hono/jsx) over the same service functions as the admin API.

import type { AppContext } from "../context.ts";
import type { HealthRegistry } from "../http/health.ts";
import type { RouteModule } from "../ports.ts";
import { createConsoleApp } from "./routes.tsx";

/** Mounts /console (unless CONSOLE=off); `health` is the registry /health reads. */
export function consoleRoutes(ctx: AppContext, health: HealthRegistry): RouteModule {
  return {
    mount(app) {
      if (ctx.config.CONSOLE === "off") return;
      const console = createConsoleApp(ctx, { health });
      app.get("/console/", (c) => c.redirect("/console", 301));
      app.route("/console", console);
    },
  };
}
