import { expect, test } from "bun:test";
import { useAdminHarness } from "./setup.ts";

const h = useAdminHarness({}, { per: "file" });

test("GET /admin/openapi.json: OpenAPI 3.1 built from the routes' schemas (every admin route, tasks and agent health too)", async () => {
  const { status, body } = await h.json<Record<string, any>>("GET", "/admin/openapi.json");
  expect(status).toBe(200);
  expect(body.openapi).toBe("3.1.0");
  expect(body.servers).toEqual([{ url: "/admin" }]);
  const routes = Object.entries(body.paths as Record<string, object>).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );
  expect(routes.sort()).toEqual(
    [
      "GET /tenants",
      "POST /tenants",
      "GET /tenants/{id}",
      "PATCH /tenants/{id}",
      "DELETE /tenants/{id}",
      "POST /tenants/{id}/credentials",
      "GET /tenants/{id}/credentials",
      "DELETE /tenants/{id}/credentials/{key}",
      "GET /tenants/{id}/messages",
      "POST /tenants/{id}/reset-session",
      "POST /tenants/{id}/link",
      "DELETE /tenants/{id}/link",
      "POST /tenants/{id}/link-code",
      "GET /tenants/{id}/link-code",
      "GET /tenants/{id}/validate",
      "POST /tools/health-check",
      "GET /tenants/{id}/tasks",
      "POST /tenants/{id}/tasks",
      "GET /tenants/{id}/tasks/{taskId}",
      "PATCH /tenants/{id}/tasks/{taskId}",
      "DELETE /tenants/{id}/tasks/{taskId}",
      "GET /agent-health",
      "GET /usage",
      "GET /tenants/{id}/usage",
      "GET /instances",
      "POST /tenants/{id}/move",
      "PUT /tenants/{id}/files/{part}",
    ].sort(),
  );
  const create = body.paths["/tenants"].post;
  expect(Object.keys(create.requestBody.content["application/json"].schema.properties)).toEqual(
    expect.arrayContaining(["name", "phone", "channel", "timezone", "business"]),
  );
  expect(create.responses["409"]).toBeDefined();
  expect(body.components.schemas.Error).toBeDefined();
  expect(body.components.securitySchemes.adminKey).toMatchObject({ type: "http", scheme: "bearer" });
});

test("the document is behind the admin key too", async () => {
  const res = await h.app.request("/admin/openapi.json");
  expect(res.status).toBe(401);
});

test("other modules can register routes on the same OpenAPI app (validation and document shared)", async () => {
  const { createRoute, z } = await import("@hono/zod-openapi");
  const { adminRoutes } = await import("../../../src/http/admin/index.ts");
  const { createApp } = await import("../../../src/http/app.ts");
  const module = adminRoutes(h.t.ctx, {
    register: [
      (api) =>
        api.openapi(
          createRoute({
            method: "get",
            path: "/extra",
            request: { query: z.object({ n: z.coerce.number().int() }) },
            responses: {
              200: { description: "ok", content: { "application/json": { schema: z.object({ n: z.number() }) } } },
            },
          }),
          (c) => c.json({ n: c.req.valid("query").n }, 200),
        ),
    ],
  });
  const app = createApp(h.t.ctx, { modules: [module] });
  const auth = { authorization: `Bearer ${h.t.ctx.config.ADMIN_API_KEY}` };
  expect(await (await app.request("/admin/extra?n=3", { headers: auth })).json()).toEqual({ n: 3 });
  const bad = await app.request("/admin/extra?n=x", { headers: auth });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_input");
  const doc = (await (await app.request("/admin/openapi.json", { headers: auth })).json()) as {
    paths: Record<string, unknown>;
  };
  expect(doc.paths["/extra"]).toBeDefined();
});
