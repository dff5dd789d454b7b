import { describe, expect, test } from "bun:test";
import type { Json } from "./setup.ts";
import { useAdminHarness } from "./setup.ts";

const h = useAdminHarness();

describe("archived tenants are read-only everywhere, like PATCH", () => {
  test("POST …/link and POST …/credentials → 409 tenant_archived; nothing is written", async () => {
    const tenant = await h.tenant();
    await h.call("DELETE", `/admin/tenants/${tenant.id}`);
    const link = await h.json<Json>("POST", `/admin/tenants/${tenant.id}/link`, { telegram_chat_id: "4242" });
    expect(link).toMatchObject({ status: 409, body: { error: { code: "tenant_archived" } } });
    const creds = await h.json<Json>("POST", `/admin/tenants/${tenant.id}/credentials`, {
      credentials: { SENDGRID_API_KEY: "SG.archived-key-123" },
    });
    expect(creds).toMatchObject({ status: 409, body: { error: { code: "tenant_archived" } } });
    const patch = await h.json<Json>("PATCH", `/admin/tenants/${tenant.id}`, { name: "x" });
    expect(patch.body.error.code).toBe("tenant_archived");
    expect((await h.json<Json>("GET", `/admin/tenants/${tenant.id}`)).body.telegram_chat_id).toBeNull();
    expect((await h.json<Json>("GET", `/admin/tenants/${tenant.id}/credentials`)).body.credentials).toEqual([]);
  });
});

describe("POST …/link on a WhatsApp tenant", () => {
  test("409 not_telegram, saying WhatsApp links by phone number", async () => {
    const tenant = await h.tenant({ channel: "whatsapp", phone: "+447700900555" });
    const res = await h.json<Json>("POST", `/admin/tenants/${tenant.id}/link`, { telegram_chat_id: "4242" });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("not_telegram");
    expect(res.body.error.message).toContain("links itself by its phone number (+447700900555)");
    expect((await h.json<Json>("GET", `/admin/tenants/${tenant.id}`)).body.telegram_chat_id).toBeNull();
  });
});

describe("POST /admin/tenants body", () => {
  test("unknown keys → 400 naming them", async () => {
    const res = await h.json<Json>("POST", "/admin/tenants", {
      name: "Acme",
      phone: "+18015550300",
      channel: "telegram",
      industry: "plumbing",
      tz: "UTC",
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_input");
    expect(res.body.error.message).toContain('"industry"');
    expect(res.body.error.message).toContain('"tz"');
  });

  test("phone_number (the column name) is accepted for phone; both differing or neither → 400", async () => {
    const created = await h.json<Json>("POST", "/admin/tenants", {
      name: "Acme",
      phone_number: "+1 801 555 0301",
      channel: "telegram",
    });
    expect(created.status).toBe(201);
    expect(created.body.phone_number).toBe("+18015550301");
    const same = await h.json<Json>("POST", "/admin/tenants", {
      name: "B",
      phone: "+18015550302",
      phone_number: "+1 801 555 0302",
      channel: "telegram",
    });
    expect(same.status).toBe(201);
    const differ = await h.json<Json>("POST", "/admin/tenants", {
      name: "C",
      phone: "+18015550303",
      phone_number: "+18015550304",
      channel: "telegram",
    });
    expect(differ.status).toBe(400);
    expect(differ.body.error.message).toContain("phone_number: differs from phone");
    const neither = await h.json<Json>("POST", "/admin/tenants", { name: "D", channel: "telegram" });
    expect(neither.status).toBe(400);
    expect(neither.body.error.message).toContain("phone: required");
    const badAlias = await h.json<Json>("POST", "/admin/tenants", {
      name: "E",
      phone_number: "junk",
      channel: "telegram",
    });
    expect(badAlias.status).toBe(400);
    expect(badAlias.body.error.message).toContain("phone_number:");
  });
});
