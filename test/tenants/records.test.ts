import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { prepareTenantConfigDir } from "../../src/agent/environment.ts";
import { setCredentials } from "../../src/credentials/index.ts";
import { ConflictError, NotFoundError } from "../../src/errors.ts";
import {
  archiveTenant,
  createTenant,
  findTenantByPhone,
  getTenant,
  listTenants,
  purgeTenant,
  requireTenant,
  setOnboardingStatus,
  updateTenant,
} from "../../src/tenants/index.ts";
import { rejectionOf, useTestContext } from "../helpers/index.ts";

const t = useTestContext();

const acme = { name: "Acme Plumbing", phone: "+1 (801) 555-1234", channel: "telegram" as const };

describe("create and read", () => {
  test("creates a DISCOVERY/ACTIVE tenant with a UUID id, E.164 phone and its workspace", async () => {
    const tenant = await createTenant(t.ctx, {
      ...acme,
      timezone: "America/Denver",
      business: { industry: "plumbing" },
    });
    expect(tenant.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(tenant).toMatchObject({
      phone_number: "+18015551234",
      status: "ACTIVE",
      onboarding_status: "DISCOVERY",
      timezone: "America/Denver",
      telegram_chat_id: null,
      business: { industry: "plumbing" },
    });
    expect(existsSync(join(t.ctx.config.TENANTS_DIR, tenant.id, "CLAUDE.md"))).toBe(true);
    expect(await getTenant(t.ctx.db, tenant.id)).toEqual(tenant);
    expect((await findTenantByPhone(t.ctx.db, "+18015551234"))?.id).toBe(tenant.id);
    expect((await findTenantByPhone(t.ctx.db, "whatsapp:+1 801-555-1234"))?.id).toBe(tenant.id);
    expect(await findTenantByPhone(t.ctx.db, "not a phone")).toBeNull();
  });

  test("a duplicate phone is a 409 naming the existing tenant", async () => {
    const first = await createTenant(t.ctx, acme);
    const err = await rejectionOf(createTenant(t.ctx, { ...acme, name: "Other", phone: "+18015551234" }));
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).code).toBe("tenant_exists");
    expect((err as ConflictError).status).toBe(409);
    expect(err.message).toContain(first.id);
  });

  test("concurrent creates with one phone: exactly one wins", async () => {
    const results = await Promise.allSettled([createTenant(t.ctx, acme), createTenant(t.ctx, acme)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect((rejected.reason as ConflictError).code).toBe("tenant_exists");
  });

  test("requireTenant: unknown or non-UUID ids are tenant_not_found", async () => {
    for (const id of ["00000000-0000-4000-8000-000000000000", "../../etc", "1; DROP TABLE tenants"]) {
      const err = await rejectionOf(requireTenant(t.ctx.db, id));
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as NotFoundError).code).toBe("tenant_not_found");
    }
    expect(await getTenant(t.ctx.db, "not-a-uuid")).toBeNull();
  });

  test("listTenants filters and pages, with the total", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createTenant(t.ctx, { ...acme, phone: `+1801555000${i}` })).id);
    await setOnboardingStatus(t.ctx, ids[0]!, "BUILDING", { by: "operator" });
    await archiveTenant(t.ctx, ids[1]!);
    const page = await listTenants(t.ctx.db, { limit: 2, offset: 0 });
    expect(page.total).toBe(5);
    expect(page.tenants).toHaveLength(2);
    const rest = await listTenants(t.ctx.db, { limit: 10, offset: 2 });
    expect(rest.tenants).toHaveLength(3);
    expect(new Set([...page.tenants, ...rest.tenants].map((x) => x.id)).size).toBe(5);
    expect((await listTenants(t.ctx.db, { status: "ARCHIVED" })).tenants.map((x) => x.id)).toEqual([ids[1]!]);
    const building = await listTenants(t.ctx.db, { onboarding_status: "BUILDING" });
    expect(building).toMatchObject({ total: 1, tenants: [{ id: ids[0]! }] });
  });

  test("the runbook's SQL is seen by the next read", async () => {
    const tenant = await createTenant(t.ctx, acme);
    await t.ctx.db.run(sql.raw(`UPDATE tenants SET onboarding_status = 'LIVE' WHERE id = '${tenant.id}'`));
    expect((await requireTenant(t.ctx.db, tenant.id)).onboarding_status).toBe("LIVE");
  });
});

describe("update and lifecycle", () => {
  test("updates name, timezone and merges the business profile (null removes a field)", async () => {
    const tenant = await createTenant(t.ctx, { ...acme, business: { industry: "plumbing", location: "Provo" } });
    const updated = await updateTenant(t.ctx, tenant.id, {
      name: "Acme Plumbing & Heating",
      timezone: "america/denver",
      business: { hours: "Mon-Fri 8-5", location: null },
    });
    expect(updated).toMatchObject({
      name: "Acme Plumbing & Heating",
      timezone: "America/Denver",
      business: { industry: "plumbing", hours: "Mon-Fri 8-5" },
    });
    expect(updated.business).not.toHaveProperty("location");
  });

  test("bad patches are refused with the field named", async () => {
    const tenant = await createTenant(t.ctx, acme);
    await expect(updateTenant(t.ctx, tenant.id, { timezone: "Mars/Base" })).rejects.toThrow(/timezone/);
    await expect(updateTenant(t.ctx, tenant.id, { business: { email: "not-an-email" } })).rejects.toThrow(
      /business\.email/,
    );
    await expect(updateTenant(t.ctx, tenant.id, {})).rejects.toThrow(/nothing to update/);
  });

  test("operator moves: forward, PAUSED from any and back to any; backwards refused", async () => {
    const { id } = await createTenant(t.ctx, acme);
    const move = (status: "DISCOVERY" | "BUILDING" | "LIVE" | "PAUSED") =>
      updateTenant(t.ctx, id, { onboarding_status: status });
    expect((await move("BUILDING")).onboarding_status).toBe("BUILDING");
    expect((await move("LIVE")).onboarding_status).toBe("LIVE");
    const back = await rejectionOf(move("DISCOVERY"));
    expect((back as ConflictError).code).toBe("invalid_transition");
    expect(back.message).toContain("PAUSED");
    expect((await move("PAUSED")).onboarding_status).toBe("PAUSED");
    expect((await move("DISCOVERY")).onboarding_status).toBe("DISCOVERY");
    expect((await move("LIVE")).onboarding_status).toBe("LIVE"); // an operator may skip BUILDING
  });

  test("the agent may only move DISCOVERY → BUILDING", async () => {
    const { id } = await createTenant(t.ctx, acme);
    await expect(setOnboardingStatus(t.ctx, id, "LIVE", { by: "agent" })).rejects.toThrow(
      /only move a tenant from DISCOVERY to BUILDING/,
    );
    expect((await setOnboardingStatus(t.ctx, id, "BUILDING", { by: "agent" })).onboarding_status).toBe("BUILDING");
    await expect(setOnboardingStatus(t.ctx, id, "PAUSED", { by: "agent" })).rejects.toThrow(ConflictError);
    expect((await setOnboardingStatus(t.ctx, id, "LIVE", { by: "operator" })).onboarding_status).toBe("LIVE");
  });

  test("archived tenants are read-only; archive is idempotent", async () => {
    const { id } = await createTenant(t.ctx, acme);
    expect((await archiveTenant(t.ctx, id)).status).toBe("ARCHIVED");
    expect((await archiveTenant(t.ctx, id)).status).toBe("ARCHIVED");
    const err = await rejectionOf(updateTenant(t.ctx, id, { name: "x" }));
    expect((err as ConflictError).code).toBe("tenant_archived");
    const dup = await rejectionOf(createTenant(t.ctx, acme));
    expect(dup.message).toContain("archived");
  });
});

describe("purge", () => {
  test("refuses an active tenant", async () => {
    const { id } = await createTenant(t.ctx, acme);
    const err = await rejectionOf(purgeTenant(t.ctx, id));
    expect((err as ConflictError).code).toBe("tenant_not_archived");
  });

  test("after archive: removes rows (cascading) and the folder, and says what", async () => {
    const tenant = await createTenant(t.ctx, acme);
    const other = await createTenant(t.ctx, { ...acme, phone: "+18015559999" });
    await setCredentials(t.ctx, tenant.id, { SENDGRID_API_KEY: "SG.purge-me-123456" });
    await setCredentials(t.ctx, other.id, { SENDGRID_API_KEY: "SG.keep-me-1234567" });
    await t.ctx.db.run(
      sql.raw(
        `INSERT INTO messages (id, tenant_id, direction, channel, chat_id, body, status) VALUES ('m1', '${tenant.id}', 'in', 'telegram', '42', 'hi', 'done')`,
      ),
    );
    await archiveTenant(t.ctx, tenant.id);
    const { removed } = await purgeTenant(t.ctx, tenant.id);
    expect(removed.join("\n")).toMatch(/tenant record/);
    expect(removed).toContain("1 messages");
    expect(removed).toContain("1 credentials");
    expect(removed.some((line) => line.startsWith("workspace folder"))).toBe(true);
    expect(await getTenant(t.ctx.db, tenant.id)).toBeNull();
    expect(existsSync(join(t.ctx.config.TENANTS_DIR, tenant.id))).toBe(false);
    const left = await t.ctx.db.all<{ n: number }>(sql.raw("SELECT count(*) AS n FROM credentials"));
    expect(left[0]?.n).toBe(1);
    expect(existsSync(join(t.ctx.config.TENANTS_DIR, other.id))).toBe(true);
  });
});

describe("purge: the agent CLI directory", () => {
  // S11: purge left the tenant's CLI sessions (its whole conversation history) in $CLAUDE_CONFIG_DIR/tenants/<id>.
  test("purge removes the tenant's CLI config dir and transcripts, and nobody else's", async () => {
    const tenant = await createTenant(t.ctx, acme);
    const other = await createTenant(t.ctx, { ...acme, phone: "+18015559998" });
    const mine = prepareTenantConfigDir(t.ctx.config.CLAUDE_CONFIG_DIR, tenant.id).dir;
    const theirs = prepareTenantConfigDir(t.ctx.config.CLAUDE_CONFIG_DIR, other.id).dir;
    mkdirSync(join(mine, "projects", "-workspace"), { recursive: true });
    writeFileSync(join(mine, "projects", "-workspace", "session.jsonl"), '{"customer":"private"}\n');
    await archiveTenant(t.ctx, tenant.id);
    const { removed } = await purgeTenant(t.ctx, tenant.id);
    expect(existsSync(mine)).toBe(false);
    expect(removed.some((line) => line.startsWith("agent CLI folder"))).toBe(true);
    expect(existsSync(theirs)).toBe(true);
  });

  test("links the agent planted in its CLI dir or workspace are removed, never followed", async () => {
    const outside = mkdtempSync(join(tmpdir(), "proxystaff-outside-"));
    try {
      writeFileSync(join(outside, "precious.txt"), "keep");
      mkdirSync(join(outside, "dir"));
      writeFileSync(join(outside, "dir", "inner.txt"), "keep");
      const tenant = await createTenant(t.ctx, acme);
      const cli = prepareTenantConfigDir(t.ctx.config.CLAUDE_CONFIG_DIR, tenant.id).dir;
      symlinkSync(outside, join(cli, "projects"));
      symlinkSync(join(outside, "precious.txt"), join(cli, "settings.json"));
      const ws = join(t.ctx.config.TENANTS_DIR, tenant.id);
      symlinkSync(join(outside, "dir"), join(ws, "inbox", "escape"));
      await archiveTenant(t.ctx, tenant.id);
      await purgeTenant(t.ctx, tenant.id);
      expect([existsSync(cli), existsSync(ws)]).toEqual([false, false]);
      expect(readFileSync(join(outside, "precious.txt"), "utf8")).toBe("keep");
      expect(readFileSync(join(outside, "dir", "inner.txt"), "utf8")).toBe("keep");
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("hand-edited rows", () => {
  test("a business field that fails the schema is left out; invalid JSON reads as {}", async () => {
    const tenant = await createTenant(t.ctx, { ...acme, business: { industry: "plumbing" } });
    await t.ctx.db.run(
      sql.raw(
        `UPDATE tenants SET business = '{"industry":"plumbing","email":"nope","extra":1}' WHERE id = '${tenant.id}'`,
      ),
    );
    expect((await requireTenant(t.ctx.db, tenant.id)).business).toEqual({ industry: "plumbing", extra: 1 });
    await t.ctx.db.run(sql.raw(`UPDATE tenants SET business = 'not json' WHERE id = '${tenant.id}'`));
    expect((await requireTenant(t.ctx.db, tenant.id)).business).toEqual({});
  });
});
