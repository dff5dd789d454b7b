import { describe, expect, test } from "bun:test";
import { setCredentials } from "../../src/credentials/index.ts";
import { validateTenant } from "../../src/ops/validation.ts";
import { createTestContext, insertTenant } from "../helpers/index.ts";

const TEMPLATE = `HX${"12".repeat(16)}`;

describe("validate-tenant's whatsapp_template line", () => {
  test("a WhatsApp tenant with no template is warned, with the fix; a credential or the platform variable makes it ok", async () => {
    const t = await createTestContext();
    try {
      const tenant = await insertTenant(t.ctx, { channel: "whatsapp" });
      const before = await validateTenant(t.ctx, tenant.id, { healthChecks: false });
      const line = before.checks.find((c) => c.name === "whatsapp_template");
      expect(line).toMatchObject({ status: "warn" });
      expect(line?.detail).toContain("outside_whatsapp_window");
      expect(line?.fix).toContain("Content Template Builder");
      expect(line?.fix).toContain("WHATSAPP_TEMPLATE_SID");
      await setCredentials(t.ctx, tenant.id, { WHATSAPP_TEMPLATE_SID: TEMPLATE });
      const after = await validateTenant(t.ctx, tenant.id, { healthChecks: false });
      expect(after.checks.find((c) => c.name === "whatsapp_template")).toMatchObject({ status: "ok" });
      const telegram = await insertTenant(t.ctx, { channel: "telegram" });
      const tg = await validateTenant(t.ctx, telegram.id, { healthChecks: false });
      expect(tg.checks.some((c) => c.name === "whatsapp_template")).toBe(false);
    } finally {
      await t.cleanup();
    }
  });

  test("the platform's WHATSAPP_TEMPLATE_SID counts for every WhatsApp tenant", async () => {
    const t = await createTestContext({ env: { WHATSAPP_TEMPLATE_SID: TEMPLATE } });
    try {
      const tenant = await insertTenant(t.ctx, { channel: "whatsapp" });
      const report = await validateTenant(t.ctx, tenant.id, { healthChecks: false });
      const line = report.checks.find((c) => c.name === "whatsapp_template");
      expect(line).toMatchObject({ status: "ok" });
      expect(line?.detail).toContain(TEMPLATE);
    } finally {
      await t.cleanup();
    }
  });
});
