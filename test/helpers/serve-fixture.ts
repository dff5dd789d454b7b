// A process entry for tests: `proxystaff serve` exactly as shipped (config from the environment,
// migrations, src/parts.ts's wiring, the same signal handling), plus a few routes under /test/
// that only tests need. Start it with spawnServer({ command: [process.execPath, SERVE_FIXTURE] }).
//   GET  /test/slow?ms=N   answers {"slept_ms":N} after N ms, logging "test: slow request started" first
//   POST /test/json        echoes the JSON body (400 invalid_json for a malformed one)
//   GET  /test/tenants     the tenants rows as this server's own connection reads them
import { loadConfig } from "../../src/config.ts";
import type { AppContext } from "../../src/context.ts";
import { schema } from "../../src/db/index.ts";
import { buildServerParts } from "../../src/parts.ts";
import type { RouteModule } from "../../src/ports.ts";
import { createContext } from "../../src/runtime.ts";
import { serveUntilSignal } from "../../src/serve.ts";

function testRoutes(ctx: AppContext): RouteModule {
  return {
    mount(app) {
      app.get("/test/slow", async (c) => {
        const ms = Number(c.req.query("ms") ?? "1000");
        ctx.log.info("test: slow request started", { ms });
        await Bun.sleep(ms);
        return c.json({ slept_ms: ms });
      });
      app.post("/test/json", async (c) => c.json(await c.req.json<unknown>()));
      app.get("/test/tenants", async (c) => c.json(await ctx.db.select().from(schema.tenants)));
    },
  };
}

const ctx = await createContext(loadConfig(process.env));
await serveUntilSignal(ctx, async (context, health) => [
  ...(await buildServerParts(context, health)),
  { routes: testRoutes(context) },
]);
process.exit(0);
