import type { Hono } from "hono";
import pkg from "../../package.json" with { type: "json" };
import type { AppContext } from "../context.ts";
import type { Db } from "../db/index.ts";
import { pingDatabase } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { HealthContributor, HealthPart, RouteModule } from "../ports.ts";
import { requireAdminKey } from "./admin-key.ts";

/** Collects the modules' health contributions (queue depth, last agent failure, sandbox state, …). */
export class HealthRegistry {
  private readonly contributors: { name: string; contributor: HealthContributor }[] = [];

  /**
   * Adds fields to every /health answer. `name` labels the contributor when it throws: the
   * answer then carries `<name>: "error"` and is degraded, instead of failing the whole check.
   */
  contribute(contributor: HealthContributor, name = `part${this.contributors.length + 1}`): void {
    this.contributors.push({ name, contributor });
  }

  async collect(log?: Logger): Promise<HealthPart> {
    const parts = await Promise.all(
      this.contributors.map(async ({ name, contributor }): Promise<HealthPart> => {
        try {
          return await contributor();
        } catch (err) {
          log?.error("health contributor failed", { contributor: name, error: err });
          return { fields: { [name]: "error" }, degraded: true };
        }
      }),
    );
    return {
      fields: Object.assign({}, ...parts.map((p) => p.fields)),
      degraded: parts.some((p) => p.degraded),
    };
  }
}

/** The body of GET /health. Modules add their own fields next to these. */
export interface HealthBody {
  status: "ok" | "degraded";
  version: string;
  uptime_s: number;
  db: "ok" | "error";
  [field: string]: unknown;
}

/** Mounts GET /health: 200 when the database answers and no module is degraded, else 503 `status: "degraded"`. */
export function mountHealth(app: Hono, db: Db, registry: HealthRegistry, startedAtMs: number, log?: Logger): void {
  app.get("/health", async (c) => {
    const [dbOk, extra] = await Promise.all([pingDatabase(db), registry.collect(log)]);
    const degraded = !dbOk || extra.degraded === true;
    if (!dbOk) log?.warn("health: database did not answer");
    const body: HealthBody = {
      ...extra.fields,
      status: degraded ? "degraded" : "ok",
      version: pkg.version,
      uptime_s: Math.round((Date.now() - startedAtMs) / 1000),
      db: dbOk ? "ok" : "error",
    };
    c.header("Cache-Control", "no-store");
    return c.json(body, degraded ? 503 : 200);
  });
}

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
