import { afterAll, beforeAll, expect, test } from "bun:test";
import { adminHarness } from "./setup.ts";
import type { AdminHarness } from "./setup.ts";

let h: AdminHarness;
beforeAll(async () => {
  h = await adminHarness();
});
afterAll(async () => {
  await h.cleanup();
});

test("GET /admin/openapi.json: OpenAPI 3.1 built from the routes' schemas", async () => {
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
      "GET /tenants/{id}/validate",
      "POST /tools/health-check",
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
