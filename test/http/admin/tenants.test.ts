import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { schema } from "../../../src/db/index.ts";
import { workspacePath } from "../../../src/tenants/index.ts";
import type { Json } from "./setup.ts";
import { UNKNOWN_ID, useAdminHarness } from "./setup.ts";

const h = useAdminHarness();

describe("auth comes first", () => {
  test("no key → 401 even for an invalid body or unknown tenant", async () => {
    for (const [method, path, body] of [
      ["POST", "/admin/tenants", "{not json"],
      ["GET", `/admin/tenants/${UNKNOWN_ID}`, undefined],
      ["GET", "/admin/tenants/not-a-uuid", undefined],
      ["POST", "/admin/tools/health-check", undefined],
    ] as const) {
      const res = await h.app.request(path, { method, body, headers: { "content-type": "application/json" } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as Json).error.code).toBe("unauthorized");
    }
  });

  test("wrong key → 401", async () => {
    const res = await h.call("GET", "/admin/tenants", undefined, { authorization: "Bearer wrong-key-wrong-key" });
    expect(res.status).toBe(401);
  });
});

describe("POST /admin/tenants", () => {
  test("creates the tenant and its workspace, phone normalised", async () => {
    const { status, body } = await h.json<Json>("POST", "/admin/tenants", {
      name: "Acme Plumbing",
      phone: "+1 (801) 555-1234",
      channel: "telegram",
      timezone: "America/Denver",
      business: { industry: "Plumbing", hours: "9-5" },
    });
    expect(status).toBe(201);
    expect(body.phone_number).toBe("+18015551234");
    expect(body.onboarding_status).toBe("DISCOVERY");
    expect(body.status).toBe("ACTIVE");
    expect(body.business.industry).toBe("Plumbing");
    expect(existsSync(workspacePath(h.t.ctx.config, body.id))).toBe(true);
  });

  test("invalid fields → 400 invalid_input naming each field", async () => {
    const { status, body } = await h.json<Json>("POST", "/admin/tenants", {
      name: "",
      phone: "junk",
      channel: "fax",
      timezone: "Mars/Base",
    });
    expect(status).toBe(400);
    expect(body.error.code).toBe("invalid_input");
    for (const field of ["name:", "phone:", "channel:", "timezone:"]) expect(body.error.message).toContain(field);
  });

  test("duplicate phone → 409 naming the existing tenant", async () => {
    const first = await h.tenant({ phone: "+18015550000" });
    const { status, body } = await h.json<Json>("POST", "/admin/tenants", {
      name: "Other",
      phone: "+1 801 555 0000",
      channel: "whatsapp",
    });
    expect(status).toBe(409);
    expect(body.error.message).toContain(first.id);
  });

  test("broken JSON → 400 invalid_json; no JSON content type → 415", async () => {
    const bad = await h.call("POST", "/admin/tenants", "{nope");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error.code).toBe("invalid_json");
    const plain = await h.call("POST", "/admin/tenants", "name=x", { "content-type": "text/plain" });
    expect(plain.status).toBe(415);
    expect(((await plain.json()) as Json).error.code).toBe("unsupported_media_type");
  });
});

describe("GET /admin/tenants", () => {
  test("filters and paginates, with the total", async () => {
    const a = await h.tenant();
    await h.tenant();
    await h.tenant();
    await h.call("PATCH", `/admin/tenants/${a.id}`, { onboarding_status: "LIVE" });
    const page = await h.json<Json>("GET", "/admin/tenants?limit=2&offset=0");
    expect(page.status).toBe(200);
    expect(page.body.tenants).toHaveLength(2);
    expect(page.body.total).toBe(3);
    expect(page.body.limit).toBe(2);
    const rest = await h.json<Json>("GET", "/admin/tenants?limit=2&offset=2");
    expect(rest.body.tenants).toHaveLength(1);
    const ids = [...page.body.tenants, ...rest.body.tenants].map((t: Json) => t.id);
    expect(new Set(ids).size).toBe(3);
    const live = await h.json<Json>("GET", "/admin/tenants?onboarding_status=LIVE");
    expect(live.body.tenants.map((t: Json) => t.id)).toEqual([a.id]);
    const archived = await h.json<Json>("GET", "/admin/tenants?status=ARCHIVED");
    expect(archived.body.total).toBe(0);
  });

  test("bad filter or page → 400 naming the parameter", async () => {
    for (const [query, field] of [
      ["status=GONE", "status"],
      ["limit=0", "limit"],
      ["limit=abc", "limit"],
      ["offset=-1", "offset"],
    ]) {
      const { status, body } = await h.json<Json>("GET", `/admin/tenants?${query}`);
      expect(status).toBe(400);
      expect(body.error.message).toContain(`${field}:`);
    }
  });
});

describe("GET/PATCH/DELETE /admin/tenants/:id", () => {
  test("reads one tenant; 404 unknown; 400 not a UUID", async () => {
    const tenant = await h.tenant();
    const ok = await h.json<Json>("GET", `/admin/tenants/${tenant.id}`);
    expect(ok.status).toBe(200);
    expect(ok.body.id).toBe(tenant.id);
    const missing = await h.json<Json>("GET", `/admin/tenants/${UNKNOWN_ID}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("tenant_not_found");
    const junk = await h.json<Json>("GET", "/admin/tenants/..%2F..%2Fetc");
    expect(junk.status).toBe(400);
    expect(junk.body.error.message).toContain("id:");
  });

  test("PATCH updates fields; unknown field, empty patch, bad transition and unknown tenant fail", async () => {
    const tenant = await h.tenant();
    const ok = await h.json<Json>("PATCH", `/admin/tenants/${tenant.id}`, {
      name: "Acme Plumbing & Heating",
      timezone: "Europe/Berlin",
      business: { location: "Berlin" },
      onboarding_status: "BUILDING",
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      name: "Acme Plumbing & Heating",
      timezone: "Europe/Berlin",
      onboarding_status: "BUILDING",
    });
    expect(ok.body.business.location).toBe("Berlin");
    expect((await h.json<Json>("PATCH", `/admin/tenants/${tenant.id}`, { phone: "+1999" })).status).toBe(400);
    expect((await h.json<Json>("PATCH", `/admin/tenants/${tenant.id}`, {})).status).toBe(400);
    const back = await h.json<Json>("PATCH", `/admin/tenants/${tenant.id}`, { onboarding_status: "DISCOVERY" });
    expect(back.status).toBe(409);
    expect(back.body.error.code).toBe("invalid_transition");
    expect((await h.json<Json>("PATCH", `/admin/tenants/${UNKNOWN_ID}`, { name: "x" })).status).toBe(404);
  });

  test("DELETE archives; ?purge=true also removes folder and data and says what", async () => {
    const tenant = await h.tenant();
    await h.call("POST", `/admin/tenants/${tenant.id}/credentials`, {
      credentials: { SENDGRID_API_KEY: "SG.abcdefghijklmnop" },
    });
    const archived = await h.json<Json>("DELETE", `/admin/tenants/${tenant.id}`);
    expect(archived.status).toBe(200);
    expect(archived.body).toMatchObject({ purged: false, removed: [] });
    expect(archived.body.tenant.status).toBe("ARCHIVED");
    expect(existsSync(workspacePath(h.t.ctx.config, tenant.id))).toBe(true);

    const purged = await h.json<Json>("DELETE", `/admin/tenants/${tenant.id}?purge=true`);
    expect(purged.status).toBe(200);
    expect(purged.body.purged).toBe(true);
    const removed = (purged.body.removed as string[]).join("\n");
    expect(removed).toContain("tenant record");
    expect(removed).toContain("1 credentials");
    expect(removed).toContain("workspace folder");
    expect(existsSync(workspacePath(h.t.ctx.config, tenant.id))).toBe(false);
    expect((await h.json<Json>("GET", `/admin/tenants/${tenant.id}`)).status).toBe(404);
  });

  test("DELETE unknown → 404; bad purge value → 400", async () => {
    expect((await h.json<Json>("DELETE", `/admin/tenants/${UNKNOWN_ID}`)).status).toBe(404);
    const tenant = await h.tenant();
    const bad = await h.json<Json>("DELETE", `/admin/tenants/${tenant.id}?purge=yes`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("purge:");
  });
});

describe("POST/DELETE /admin/tenants/:id/link", () => {
  test("links, relinks (operator), unlinks", async () => {
    const tenant = await h.tenant();
    const linked = await h.json<Json>("POST", `/admin/tenants/${tenant.id}/link`, { telegram_chat_id: "123456789" });
    expect(linked.status).toBe(200);
    expect(linked.body.telegram_chat_id).toBe("123456789");
    const relinked = await h.json<Json>("POST", `/admin/tenants/${tenant.id}/link`, { telegram_chat_id: -100987 });
    expect(relinked.body.telegram_chat_id).toBe("-100987");
    const unlinked = await h.json<Json>("DELETE", `/admin/tenants/${tenant.id}/link`);
    expect(unlinked.status).toBe(200);
    expect(unlinked.body.telegram_chat_id).toBeNull();
  });

  test("chat of another tenant → 409; bad chat id → 400; unknown tenant → 404", async () => {
    const a = await h.tenant();
    const b = await h.tenant();
    await h.call("POST", `/admin/tenants/${a.id}/link`, { telegram_chat_id: "555" });
    const clash = await h.json<Json>("POST", `/admin/tenants/${b.id}/link`, { telegram_chat_id: "555" });
    expect(clash.status).toBe(409);
    expect(clash.body.error.message).toContain(a.id);
    const bad = await h.json<Json>("POST", `/admin/tenants/${b.id}/link`, { telegram_chat_id: "12ab" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("telegram_chat_id");
    expect((await h.json("POST", `/admin/tenants/${UNKNOWN_ID}/link`, { telegram_chat_id: "1" })).status).toBe(404);
    expect((await h.json("DELETE", `/admin/tenants/${UNKNOWN_ID}/link`)).status).toBe(404);
  });
});

describe("POST/GET /admin/tenants/:id/link-code", () => {
  test("makes a one-time code (renewing replaces it); GET shows only whether one is outstanding and until when", async () => {
    const tenant = await h.tenant();
    const none = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/link-code`);
    expect(none.body).toEqual({ outstanding: false, expires_at: null });
    const first = await h.json<Json>("POST", `/admin/tenants/${tenant.id}/link-code`);
    expect(first.status).toBe(201);
    expect(first.body.code).toMatch(/^[A-Za-z0-9_-]{32,64}$/);
    expect(first.body.url === null || first.body.url.endsWith(`?start=${first.body.code}`)).toBe(true);
    const second = await h.json<Json>("POST", `/admin/tenants/${tenant.id}/link-code`);
    expect(second.body.code).not.toBe(first.body.code);
    const status = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/link-code`);
    expect(status.body).toEqual({ outstanding: true, expires_at: second.body.expires_at });
    expect(JSON.stringify(status.body)).not.toContain(second.body.code);
    const rows = await h.t.ctx.db.select().from(schema.telegramLinkCodes);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(second.body.code); // stored hashed
  });

  test("a linked or WhatsApp tenant gets 409", async () => {
    const linked = await h.tenant();
    await h.call("POST", `/admin/tenants/${linked.id}/link`, { telegram_chat_id: "4343" });
    expect((await h.json<Json>("POST", `/admin/tenants/${linked.id}/link-code`)).body.error.code).toBe(
      "already_linked",
    );
    const wa = await h.tenant({ channel: "whatsapp" });
    expect((await h.json<Json>("POST", `/admin/tenants/${wa.id}/link-code`)).body.error.code).toBe("not_telegram");
    expect((await h.json<Json>("POST", `/admin/tenants/${UNKNOWN_ID}/link-code`)).status).toBe(404);
  });
});
