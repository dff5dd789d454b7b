import { describe, expect, test } from "bun:test";
import { getCredentials } from "../../../src/credentials/store.ts";
import type { Json } from "./setup.ts";
import { UNKNOWN_ID, useAdminHarness } from "./setup.ts";

const h = useAdminHarness();

const SECRET = "sg-live-0123456789abcdefXYZW";

describe("credentials", () => {
  test("POST exactly as the runbook's curl stores and merges; GET lists masked; DELETE removes", async () => {
    const tenant = await h.tenant();
    const path = `/admin/tenants/${tenant.id}/credentials`;
    // The runbook: -H "Content-Type: application/json" -d '{"credentials": {...}}'
    const first = await h.app.request(path, {
      method: "POST",
      headers: { Authorization: "Bearer test-admin-key-0123456789abcdef", "Content-Type": "application/json" },
      body: `{
    "credentials": {
      "SENDGRID_API_KEY": "${SECRET}",
      "GOOGLE_CREDENTIALS_JSON": "{\\"type\\":\\"service_account\\"}"
    }
  }`,
    });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ tenant_id: tenant.id, keys: ["GOOGLE_CREDENTIALS_JSON", "SENDGRID_API_KEY"] });

    const merged = await h.json<Json>("POST", path, { credentials: { SENDGRID_FROM_EMAIL: "owner@acme.example" } });
    expect(merged.body.keys).toEqual(["GOOGLE_CREDENTIALS_JSON", "SENDGRID_API_KEY", "SENDGRID_FROM_EMAIL"]);
    expect((await getCredentials(h.t.ctx, tenant.id)).SENDGRID_API_KEY).toBe(SECRET);

    const list = await h.call("GET", path);
    const text = await list.text();
    expect(list.status).toBe(200);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("service_account");
    const body = JSON.parse(text) as Json;
    const sendgrid = body.credentials.find((c: Json) => c.key === "SENDGRID_API_KEY");
    expect(sendgrid.masked).toEndWith("XYZW");
    expect(sendgrid.masked).not.toContain("0123");
    expect(typeof sendgrid.updated_at).toBe("string");

    const deleted = await h.json<Json>("DELETE", `${path}/SENDGRID_API_KEY`);
    expect(deleted).toEqual({ status: 200, body: { tenant_id: tenant.id, deleted: "SENDGRID_API_KEY" } });
    const again = await h.json<Json>("DELETE", `${path}/SENDGRID_API_KEY`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("credential_not_found");
  });

  test("bad key names, empty or missing record, non-string and oversized values → 400 naming the field", async () => {
    const tenant = await h.tenant();
    const path = `/admin/tenants/${tenant.id}/credentials`;
    const cases: [unknown, string][] = [
      [{ credentials: { "lower-case": "x" } }, "credentials.lower-case: key must match ^[A-Z][A-Z0-9_]{0,63}$"],
      [{ credentials: {} }, "credentials"],
      [{}, 'credentials: required: an object {"KEY": "value", …}'],
      [{ SENDGRID_API_KEY: "sg-xxx" }, 'credentials: required: an object {"KEY": "value", …}'],
      [{ credentials: "sg-xxx" }, 'credentials: must be an object {"KEY": "value", …}'],
      [{ credentials: { API_KEY: 42 } }, "credentials.API_KEY"],
      [{ credentials: { API_KEY: "" } }, "credentials.API_KEY"],
      [{ credentials: { API_KEY: "x".repeat(64 * 1024 + 1) } }, "credentials.API_KEY"],
    ];
    for (const [body, field] of cases) {
      const res = await h.json<Json>("POST", path, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid_input");
      expect(res.body.error.message).toContain(field);
    }
    const list = await h.json<Json>("GET", path);
    expect(list.body.credentials).toEqual([]);
  });

  test("unknown tenant → 404 on every verb; bad ids and key names → 400", async () => {
    const base = `/admin/tenants/${UNKNOWN_ID}/credentials`;
    expect((await h.json("POST", base, { credentials: { A: "b" } })).status).toBe(404);
    expect((await h.json("GET", base)).status).toBe(404);
    expect((await h.json("DELETE", `${base}/A`)).status).toBe(404);
    expect((await h.json("GET", "/admin/tenants/x/credentials")).status).toBe(400);
    const tenant = await h.tenant();
    const badKey = await h.json<Json>("DELETE", `/admin/tenants/${tenant.id}/credentials/not_upper`);
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.message).toContain("key:");
  });
});
