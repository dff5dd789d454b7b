import type { AppContext } from "../context.ts";
import { requireAdminKey } from "../http/admin-auth.ts";
import type { RouteModule } from "../http/app.ts";

/** GET /metrics in Prometheus text format; behind the admin key unless METRICS_PUBLIC=true. */
export function metricsRoutes(ctx: AppContext): RouteModule {
  return {
    mount(app) {
      if (!ctx.config.METRICS_PUBLIC) app.use("/metrics", requireAdminKey(ctx.config.ADMIN_API_KEY));
      app.get("/metrics", async (c) => {
        const body = await ctx.metrics.registry.metrics();
        return c.body(body, 200, { "content-type": ctx.metrics.registry.contentType });
      });
    },
  };
}
