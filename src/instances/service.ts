import { hostname } from "node:os";
import pkg from "../../package.json" with { type: "json" };
import type { AppContext } from "../context.ts";
import type { HealthContributor, ListeningInfo, Service } from "../ports.ts";
import { HEARTBEAT_MS, heartbeatInstance, listInstances, otherInstanceUp, registerInstance } from "./registry.ts";

export interface InstanceServiceDeps {
  /**
   * Gives tenants with no owner yet (made before instances existed) to this instance; called at start only
   * when no other instance is up, so a second machine never takes a first machine's workspaces.
   */
  adoptUnowned(instanceId: string): Promise<number>;
}

/** This instance in `instances`: registered at start, a heartbeat every 10 s, and the list in /health. */
export interface InstanceService {
  service: Service;
  health: HealthContributor;
}

/** The URL other instances and operators reach this one at: PUBLIC_URL, else the listener. */
export function instanceUrl(ctx: AppContext, listening?: ListeningInfo): string | null {
  if (ctx.config.PUBLIC_URL) return ctx.config.PUBLIC_URL;
  if (!listening) return null;
  const host = ["0.0.0.0", "::", ""].includes(ctx.config.HOST) ? hostname() : ctx.config.HOST;
  return `http://${host.includes(":") ? `[${host}]` : host}:${listening.port}`;
}

export function createInstanceService(ctx: AppContext, deps: InstanceServiceDeps): InstanceService {
  const id = ctx.config.INSTANCE_ID;
  const log = ctx.log.child({ component: "instances", instance: id });
  let timer: ReturnType<typeof setInterval> | undefined;
  const beat = () => {
    heartbeatInstance(ctx.db, id, ctx.clock.now()).catch((err: unknown) =>
      log.warn("instance heartbeat failed", { error: err }),
    );
  };
  return {
    service: {
      name: "instances",
      async start(listening) {
        const url = instanceUrl(ctx, listening);
        const alone = !(await otherInstanceUp(ctx.db, id, ctx.clock.now()));
        await registerInstance(ctx.db, { id, url, version: pkg.version }, ctx.clock.now());
        const adopted = alone ? await deps.adoptUnowned(id) : 0;
        log.info("instance registered", { url, adopted });
        timer = setInterval(beat, HEARTBEAT_MS);
      },
      stop() {
        if (timer) clearInterval(timer);
      },
    },
    async health() {
      const all = await listInstances(ctx.db, ctx.clock);
      return {
        fields: {
          instance_id: id,
          instances: all.map((i) => ({
            id: i.id,
            url: i.url,
            version: i.version,
            up: i.up,
            last_seen_at: i.last_seen_at,
          })),
        },
      };
    },
  };
}
