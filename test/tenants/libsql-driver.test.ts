// The same tenant and vault operations on the libSQL driver (the remote-database path): unique and
// foreign-key behaviour, upserts and RETURNING must work there exactly as on bun:sqlite.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { listCredentials, rotateCredentialsKey, setCredentials } from "../../src/credentials/index.ts";
import { getCredentials } from "../../src/credentials/store.ts";
import {
  archiveTenant,
  createTenant,
  listTenants,
  purgeTenant,
  updateTenant,
  workspacePath,
} from "../../src/tenants/index.ts";
import { useTestContext } from "../helpers/index.ts";

const t = useTestContext({ driver: "libsql" });

test("libsql: create, concurrent duplicate, update, credentials upsert, rotate, purge cascade", async () => {
  const input = { name: "Acme", phone: "+18015551234", channel: "whatsapp" as const };
  const results = await Promise.allSettled([
    createTenant(t.ctx, input),
    createTenant(t.ctx, input),
    createTenant(t.ctx, input),
  ]);
  const created = results.filter(
    (r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof createTenant>>> => r.status === "fulfilled",
  );
  expect(created).toHaveLength(1);
  const tenant = created[0]!.value;
  for (const r of results)
    if (r.status === "rejected") expect((r.reason as { code: string }).code).toBe("tenant_exists");
  expect((await listTenants(t.ctx.db)).total).toBe(1);

  const updated = await updateTenant(t.ctx, tenant.id, {
    business: { industry: "plumbing" },
    onboarding_status: "BUILDING",
  });
  expect(updated).toMatchObject({ onboarding_status: "BUILDING", business: { industry: "plumbing" } });

  await setCredentials(t.ctx, tenant.id, { SENDGRID_API_KEY: "SG.first-0000000001" });
  await setCredentials(t.ctx, tenant.id, { SENDGRID_API_KEY: "SG.second-000000002" });
  expect(await getCredentials(t.ctx, tenant.id)).toEqual({ SENDGRID_API_KEY: "SG.second-000000002" });
  expect((await listCredentials(t.ctx, tenant.id))[0]?.masked).toBe("••••0002");
  expect(await rotateCredentialsKey(t.ctx)).toMatchObject({ rotated: 0, alreadyCurrent: 1, failed: 0 });

  await archiveTenant(t.ctx, tenant.id);
  const { removed } = await purgeTenant(t.ctx, tenant.id);
  expect(removed).toContain("1 credentials");
  expect(existsSync(workspacePath(t.ctx.config, tenant.id))).toBe(false);
  expect((await listTenants(t.ctx.db)).total).toBe(0);
});

test("libsql: concurrent profile updates never lose each other's fields", async () => {
  const tenant = await createTenant(t.ctx, { name: "Acme", phone: "+18015551234", channel: "telegram" });
  const fields = ["industry", "location", "hours", "services", "notes"] as const;
  await Promise.all(fields.map((field) => updateTenant(t.ctx, tenant.id, { business: { [field]: `${field} value` } })));
  const { tenants } = await listTenants(t.ctx.db);
  expect(Object.keys(tenants[0]!.business).sort()).toEqual([...fields].sort());
});
