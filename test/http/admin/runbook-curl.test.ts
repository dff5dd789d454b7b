import { afterAll, beforeAll, expect, test } from "bun:test";
import { getCredentials } from "../../../src/credentials/store.ts";
import { adminRoutes } from "../../../src/http/admin/index.ts";
import { createTenant } from "../../../src/tenants/index.ts";
import type { TestServer } from "../../helpers/index.ts";
import { startTestServer, TEST_ADMIN_KEY } from "../../helpers/index.ts";

const hasCurl = Bun.which("curl") !== null;
let s: TestServer;
beforeAll(async () => {
  // SendGrid is pointed at a closed loopback port: the health check fails fast instead of going online.
  s = await startTestServer({
    env: { SENDGRID_API_BASE: "http://127.0.0.1:9" },
    build: async (ctx) => [{ routes: adminRoutes(ctx) }],
  });
});
afterAll(async () => {
  await s.cleanup();
});

/** Runs a shell command line (the runbook's curl) with ADMIN_API_KEY exported. */
async function shell(line: string): Promise<{ code: number; stdout: string }> {
  const proc = Bun.spawn(["sh", "-c", line], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ADMIN_API_KEY: TEST_ADMIN_KEY },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return { code, stdout };
}

test.if(hasCurl)("the runbook's credentials curl works verbatim against a running server", async () => {
  const tenant = await createTenant(s.ctx, { name: "Acme", phone: "+18015550999", channel: "telegram" });
  const post = await shell(`curl -s -X POST ${s.url}/admin/tenants/${tenant.id}/credentials \\
  -H "Authorization: Bearer $ADMIN_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
    "credentials": {
      "SENDGRID_API_KEY": "sg-xxx",
      "GOOGLE_CREDENTIALS_JSON": "{...}"
    }
  }'`);
  expect(post.code).toBe(0);
  expect(JSON.parse(post.stdout)).toEqual({
    tenant_id: tenant.id,
    keys: ["GOOGLE_CREDENTIALS_JSON", "SENDGRID_API_KEY"],
  });
  expect(await getCredentials(s.ctx, tenant.id)).toEqual({
    SENDGRID_API_KEY: "sg-xxx",
    GOOGLE_CREDENTIALS_JSON: "{...}",
  });

  const list = await shell(
    `curl -s ${s.url}/admin/tenants/${tenant.id}/credentials -H "Authorization: Bearer $ADMIN_API_KEY"`,
  );
  expect(list.stdout).not.toContain("sg-xxx");
  expect(JSON.parse(list.stdout).credentials.map((c: { key: string }) => c.key)).toEqual([
    "GOOGLE_CREDENTIALS_JSON",
    "SENDGRID_API_KEY",
  ]);

  const health = await shell(
    `curl -s -X POST ${s.url}/admin/tools/health-check -H "Authorization: Bearer $ADMIN_API_KEY"`,
  );
  const report = JSON.parse(health.stdout);
  expect(report.tenants[0].tenant_id).toBe(tenant.id);
  expect(health.stdout).not.toContain("sg-xxx");
});
