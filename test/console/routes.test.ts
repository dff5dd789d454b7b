import { describe, expect, test } from "bun:test";
import { listCredentials } from "../../src/credentials/index.ts";
import { HealthRegistry } from "../../src/http/health.ts";
import { createTask, listTasks } from "../../src/scheduler/index.ts";
import { getTenant } from "../../src/tenants/index.ts";
import { createTestContext, insertTenant, TEST_ADMIN_KEY, useTestContext } from "../helpers/index.ts";
import { ConsoleClient, ORIGIN } from "./client.ts";

const t = useTestContext();

describe("console sign-in and session", () => {
  test("no session: pages redirect to sign-in; a wrong key is refused; the right one lands on the overview", async () => {
    const client = new ConsoleClient(t);
    const before = await client.get("/console");
    expect(before.status).toBe(303);
    expect(before.headers.get("location")).toBe("/console/sign-in");
    const wrong = await client.signIn("not-the-admin-key-at-all");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("That is not the admin key.");
    expect(client.cookie).toBe("");
    const right = await client.signIn();
    expect(right.status).toBe(303);
    expect(right.headers.get("location")).toBe("/console");
    const overview = await client.get("/console");
    expect(overview.status).toBe(200);
    expect(await overview.text()).toContain("No tenants yet");
  });

  test("the cookie: HttpOnly, SameSite=Strict, 12 h, not Secure over http; a new session id on each sign-in", async () => {
    const client = new ConsoleClient(t);
    const res = await client.signIn();
    const set = res.headers.get("set-cookie") ?? "";
    expect(set).toStartWith("proxystaff_console=");
    expect(set).toContain("HttpOnly");
    expect(set).toContain("SameSite=Strict");
    expect(set).toContain("Max-Age=43200");
    expect(set).not.toContain("Secure");
    const first = client.cookie;
    await client.signIn();
    expect(client.cookie).not.toBe(first);
  });

  test("with an https PUBLIC_URL the cookie is Secure and __Host- prefixed", async () => {
    const https = await createTestContext({ env: { PUBLIC_URL: "https://staff.example.com" } });
    try {
      const client = new ConsoleClient(https);
      const res = await client.signIn();
      const set = res.headers.get("set-cookie") ?? "";
      expect(set).toStartWith("__Host-proxystaff_console=");
      expect(set).toContain("Secure");
      expect(set).toContain("Path=/");
    } finally {
      await https.cleanup();
    }
  });

  test("failed sign-ins are limited: the sixth try within 15 minutes is 429, even with the right key", async () => {
    const client = new ConsoleClient(t);
    for (let i = 0; i < 5; i++) expect((await client.signIn(`wrong-key-${i}-xxxxxxxxxxxx`)).status).toBe(401);
    const limited = await client.signIn();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(client.cookie).toBe("");
  });

  test("a forged or tampered cookie is no session", async () => {
    const client = new ConsoleClient(t);
    await client.signIn();
    client.cookie = client.cookie.replace(/=(.)/, (_m, ch: string) => `=${ch === "A" ? "B" : "A"}`);
    expect((await client.get("/console")).status).toBe(303);
  });

  test("sign-out revokes the session: the old cookie no longer opens a page", async () => {
    const client = new ConsoleClient(t);
    await client.signIn();
    const kept = client.cookie;
    const token = await client.csrfToken();
    const out = await client.post("/console/sign-out", { _csrf: token });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    client.cookie = kept;
    expect((await client.get("/console")).headers.get("location")).toBe("/console/sign-in");
  });

  test("every page: strict CSP, no framing, no caching; assets are served from the binary", async () => {
    const client = new ConsoleClient(t);
    await client.signIn();
    for (const path of ["/console", "/console/sign-in", "/console/usage", "/console/failures"]) {
      const res = await client.get(path);
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    const css = await client.get("/console/assets/console.css");
    expect(css.headers.get("content-type")).toContain("text/css");
    const html = await (await client.get("/console")).text();
    expect(html).toStartWith("<!DOCTYPE html>");
    expect(html).not.toMatch(/<script>|<style>| style="/);
  });

  test("CONSOLE=off: no console", async () => {
    const off = await createTestContext({ env: { CONSOLE: "off" } });
    try {
      expect((await new ConsoleClient(off).get("/console/sign-in")).status).toBe(404);
    } finally {
      await off.cleanup();
    }
  });
});

describe("console forms", () => {
  test("a POST without the CSRF token, with another session's token, or from another origin is 403", async () => {
    const tenant = await insertTenant(t.ctx, { onboarding_status: "LIVE" });
    const client = new ConsoleClient(t);
    await client.signIn();
    const path = `/console/tenants/${tenant.id}/pause`;
    const missing = await client.post(path, { confirm: "yes" });
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain("csrf_token_invalid");

    const other = new ConsoleClient(t);
    await other.signIn();
    expect((await client.post(path, { confirm: "yes", _csrf: await other.csrfToken() })).status).toBe(403);

    const token = await client.csrfToken();
    const crossSite = await client.post(path, { confirm: "yes", _csrf: token }, { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    expect((await getTenant(t.ctx.db, tenant.id))?.onboarding_status).toBe("LIVE");
  });

  test("pause asks to confirm first, then pauses through the tenants service; resume picks the stage", async () => {
    const tenant = await insertTenant(t.ctx, { onboarding_status: "LIVE" });
    const client = new ConsoleClient(t);
    await client.signIn();
    const _csrf = await client.csrfToken();
    const ask = await client.post(`/console/tenants/${tenant.id}/pause`, { _csrf });
    expect(ask.status).toBe(200);
    expect(await ask.text()).toContain("Yes, I am sure");
    expect((await getTenant(t.ctx.db, tenant.id))?.onboarding_status).toBe("LIVE");
    const done = await client.post(`/console/tenants/${tenant.id}/pause`, { _csrf, confirm: "yes" });
    expect(done.status).toBe(303);
    expect((await getTenant(t.ctx.db, tenant.id))?.onboarding_status).toBe("PAUSED");
    await client.post(`/console/tenants/${tenant.id}/resume`, { _csrf, onboarding_status: "BUILDING" });
    expect((await getTenant(t.ctx.db, tenant.id))?.onboarding_status).toBe("BUILDING");
  });

  test("the profile form saves name, time zone, stage and the business profile (a deleted field is removed)", async () => {
    const tenant = await insertTenant(t.ctx, { business: JSON.stringify({ industry: "bakery", hours: "9-5" }) });
    const client = new ConsoleClient(t);
    await client.signIn();
    const _csrf = await client.csrfToken();
    const page = await (await client.get(`/console/tenants/${tenant.id}`)).text();
    expect(page).toContain("&quot;hours&quot;: &quot;9-5&quot;");
    const path = `/console/tenants/${tenant.id}/profile`;
    const fields = { _csrf, name: "Alpine Bakery & Café", timezone: "Europe/Vienna", onboarding_status: "BUILDING" };
    const res = await client.post(path, { ...fields, business: '{"industry": "bakery", "location": "Vienna"}' });
    expect(res.status).toBe(303);
    expect(await getTenant(t.ctx.db, tenant.id)).toMatchObject({
      name: "Alpine Bakery & Café",
      timezone: "Europe/Vienna",
      onboarding_status: "BUILDING",
      business: { industry: "bakery", location: "Vienna" },
    });
    const bad = await client.post(path, { ...fields, business: "{not json" });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("business: not valid JSON");
    const backwards = await client.post(path, { ...fields, onboarding_status: "DISCOVERY" });
    expect(backwards.status).toBe(409);
    expect(await backwards.text()).toContain("invalid_transition");
  });

  test("a credential is stored encrypted and its value never appears on the page again", async () => {
    const tenant = await insertTenant(t.ctx);
    const client = new ConsoleClient(t);
    await client.signIn();
    const _csrf = await client.csrfToken();
    const secret = "sk-live-VERY-secret-value-4242";
    const res = await client.post(`/console/tenants/${tenant.id}/credentials`, {
      _csrf,
      key: "SENDGRID_API_KEY",
      value: secret,
    });
    expect(res.status).toBe(303);
    expect((await listCredentials(t.ctx, tenant.id)).map((c) => c.key)).toEqual(["SENDGRID_API_KEY"]);
    const page = await (await client.get(res.headers.get("location") ?? "")).text();
    expect(page).toContain("SENDGRID_API_KEY");
    expect(page).toContain("Credential stored");
    expect(page).not.toContain(secret);
    expect(page).not.toContain("VERY-secret");
    expect(JSON.stringify(t.logs)).not.toContain(secret);
  });

  test("a bad credential key is an error page with the message, never a stack", async () => {
    const tenant = await insertTenant(t.ctx);
    const client = new ConsoleClient(t);
    await client.signIn();
    const res = await client.post(`/console/tenants/${tenant.id}/credentials`, {
      _csrf: await client.csrfToken(),
      key: "lower case",
      value: "x",
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("key:");
    expect(html).not.toMatch(/\bat .*:\d+:\d+/);
  });

  test("cancel a task (confirmed) through the scheduler's cancelTask", async () => {
    const tenant = await insertTenant(t.ctx);
    const task = await createTask(t.ctx, tenant.id, { prompt: "Weekly summary", cron: "0 9 * * 1" }, "admin");
    const client = new ConsoleClient(t);
    await client.signIn();
    const _csrf = await client.csrfToken();
    expect(await (await client.get(`/console/tenants/${tenant.id}`)).text()).toContain("Weekly summary");
    const res = await client.post(`/console/tenants/${tenant.id}/tasks/${task.id}/cancel`, { _csrf, confirm: "yes" });
    expect(res.status).toBe(303);
    expect((await listTasks(t.ctx.db, { tenantId: tenant.id }))[0]?.status).toBe("CANCELLED");
  });

  test("an unknown tenant is a 404 page; an unknown console path too", async () => {
    const client = new ConsoleClient(t);
    await client.signIn();
    const res = await client.get(`/console/tenants/${crypto.randomUUID()}`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect((await client.get("/console/nope")).status).toBe(404);
  });

  test("the health strip shows what /health's registry reports, credit low included", async () => {
    const health = new HealthRegistry();
    health.contribute(() => ({
      fields: { outbox_pending: 7, agent: "credit_too_low: the Claude account has no credit; see the runbook" },
      degraded: true,
    }));
    const client = new ConsoleClient(t, health);
    await client.signIn();
    const html = await (await client.get("/console")).text();
    expect(html).toContain("Outbox pending");
    expect(html).toMatch(/data-field="credit"[^>]*>.*credit_too_low/s);
  });

  test("the health strip lists the instances sharing the database, a down one in red; the gateway's credit_low shows", async () => {
    const health = new HealthRegistry();
    health.contribute(() => ({
      fields: {
        model: "credit_low",
        instances: [
          { id: "fra-1", up: true, url: null, version: "1", last_seen_at: "2026-12-03T10:00:00.000Z" },
          { id: "ams-2", up: false, url: null, version: "1", last_seen_at: "2026-12-03T09:00:00.000Z" },
        ],
      },
    }));
    const client = new ConsoleClient(t, health);
    await client.signIn();
    const html = await (await client.get("/console")).text();
    expect(html).toMatch(/class="item bad" data-field="instances"[^>]*>.*fra-1 up · ams-2 down/s);
    expect(html).toMatch(/data-field="credit"[^>]*>.*credit_too_low/s);
  });
});

test("sign-in posts need the console's own Origin", async () => {
  const client = new ConsoleClient(t);
  const res = await client.post("/console/sign-in", { key: TEST_ADMIN_KEY }, { origin: "https://evil.example" });
  expect(res.status).toBe(403);
  expect(ORIGIN).toBe("http://localhost");
});
