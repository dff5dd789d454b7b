import type { Hono } from "hono";
import { pingDatabase } from "../db/index.ts";
import type { Db } from "../db/index.ts";
import pkg from "../../package.json" with { type: "json" };

/** One module's contribution to GET /health: extra fields, and whether it makes the service degraded. */
export interface HealthPart {
  fields: Record<string, unknown>;
  degraded?: boolean;
}

export type HealthContributor = () => HealthPart | Promise<HealthPart>;

/** Collects the modules' health contributions (queue depth, last agent failure, sandbox state, …). */
export class HealthRegistry {
  private readonly contributors: HealthContributor[] = [];

  contribute(contributor: HealthContributor): void {
    this.contributors.push(contributor);
  }

  async collect(): Promise<HealthPart> {
    const parts = await Promise.all(this.contributors.map((c) => c()));
    return {
      fields: Object.assign({}, ...parts.map((p) => p.fields)),
      degraded: parts.some((p) => p.degraded),
    };
  }
}

/** Mounts GET /health: 200 when the database answers and no module is degraded, else 503. */
export function mountHealth(app: Hono, db: Db, registry: HealthRegistry, startedAtMs: number): void {
  app.get("/health", async (c) => {
    const dbOk = await pingDatabase(db);
    const extra = await registry.collect();
    const degraded = !dbOk || extra.degraded === true;
    return c.json(
      {
        status: degraded ? "degraded" : "ok",
        version: pkg.version,
        uptime_s: Math.round((Date.now() - startedAtMs) / 1000),
        db: dbOk ? "ok" : "error",
        ...extra.fields,
      },
      degraded ? 503 : 200,
    );
  });
}
