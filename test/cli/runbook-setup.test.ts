import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseIntake } from "../../src/ops/intake.ts";
import { REPO_ROOT } from "../helpers/index.ts";
import type { RunbookEnv } from "./runbook-support.ts";
import { printedTenantId, runbookEnv } from "./runbook-support.ts";

let rb: RunbookEnv;
beforeAll(() => {
  rb = runbookEnv();
});
afterAll(() => rb.cleanup());

const TEMPLATE = join(REPO_ROOT, "docs/customer-intake-template.json");

describe("setup-customer (Quick Setup)", () => {
  test("creates the tenant, prints its id and how to link, then validates; re-run says it exists", async () => {
    const first = await rb.run("setup-customer", [
      "--name",
      "Business Name",
      "--phone",
      "+18015551234",
      "--channel",
      "telegram",
    ]);
    expect(first.stderr).not.toContain("Error"); // (a warning that tools run unisolated may appear where bwrap is missing)
    expect(first.code).toBe(0);
    const id = printedTenantId(first.stdout);
    expect(first.stdout).toContain('send "/start +18015551234" to your Telegram bot');
    expect(first.stdout).toContain(`Validation of Business Name (${id})`);
    expect(first.stdout).toMatch(/Result: 0 failed/);

    const again = await rb.run("setup-customer", [
      "--name",
      "Renamed",
      "--phone",
      "+1 801 555 1234",
      "--channel",
      "telegram",
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already exists: ${id}`);
    expect(again.stdout).toContain("Nothing was changed");
    const db = new Database(rb.dbPath, { readonly: true });
    expect(db.query("SELECT count(*) AS n FROM tenants").get()).toEqual({ n: 1 });
    expect(db.query("SELECT name FROM tenants WHERE id = ?").get(id)).toEqual({ name: "Business Name" });
    db.close();

    const updated = await rb.run("setup-customer", [
      "--name",
      "Renamed",
      "--phone",
      "+18015551234",
      "--channel",
      "telegram",
      "--update",
      "--skip-health-checks",
    ]);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toContain(`Updated tenant ${id}`);
    const db2 = new Database(rb.dbPath, { readonly: true });
    expect(db2.query("SELECT name FROM tenants WHERE id = ?").get(id)).toEqual({ name: "Renamed" });
    db2.close();
  });

  test("missing flags without a terminal → exit 2 naming them; bad phone → exit 1; --help → 0", async () => {
    const missing = await rb.run("setup-customer", ["--name", "X"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Missing --phone, --channel");
    const junk = await rb.run("setup-customer", ["--name", "X", "--phone", "call me", "--channel", "telegram"]);
    expect(junk.code).toBe(1);
    expect(junk.stderr).toContain("phone:");
    const help = await rb.run("setup-customer", ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: proxystaff setup-customer");
    expect(help.stdout).toContain("--from-file");
  });
});

describe("setup-customer --from-file (Full Setup)", () => {
  test("the shipped template is a valid intake file with every field", () => {
    const raw = JSON.parse(readFileSync(TEMPLATE, "utf8"));
    const intake = parseIntake(raw);
    expect(Object.keys(raw).sort()).toEqual(["business", "channel", "credentials", "name", "phone", "timezone"]);
    expect(Object.keys(raw.business).sort()).toEqual(["hours", "industry", "location", "notes", "services"]);
    expect(intake.phone).toBe("+18015551234");
  });

  test("cp template, edit, setup: profile and credentials stored (encrypted), then validate-tenant", async () => {
    const raw = JSON.parse(readFileSync(TEMPLATE, "utf8"));
    raw.name = "Wasatch Dental";
    raw.phone = "+1 (385) 555-0199";
    raw.business.industry = "Dentistry";
    raw.credentials.SENDGRID_API_KEY = "SG.intake-secret-value-123456";
    const file = join(rb.dir, "new-customer.json");
    writeFileSync(file, JSON.stringify(raw, null, 2));

    const setup = await rb.run("setup-customer", ["--from-file", file, "--skip-health-checks"]);
    expect(setup.code).toBe(0);
    const id = printedTenantId(setup.stdout);
    expect(setup.stdout).toContain("Credentials stored in the vault: SENDGRID_API_KEY");
    expect(setup.stdout).toContain("not stored): SENDGRID_FROM_EMAIL, GOOGLE_CREDENTIALS_JSON");
    expect(setup.stdout).not.toContain("SG.intake-secret-value-123456");

    const db = new Database(rb.dbPath, { readonly: true });
    const row = db.query("SELECT phone_number, timezone, business FROM tenants WHERE id = ?").get(id) as Record<
      string,
      string
    >;
    expect(row.phone_number).toBe("+13855550199");
    expect(row.timezone).toBe("America/Denver");
    expect(JSON.parse(String(row.business)).industry).toBe("Dentistry");
    const cred = db.query("SELECT ciphertext FROM credentials WHERE tenant_id = ?").get(id) as { ciphertext: string };
    expect(cred.ciphertext).not.toContain("intake-secret");
    db.close();

    const validate = await rb.run("validate-tenant", [id, "--skip-health-checks"]);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toMatch(/ok\s+credentials:send_email.py/);
  });

  test("an invalid file → exit 1 naming the field paths; a missing file → exit 1", async () => {
    const file = join(rb.dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify({
        name: "X",
        phone: "12",
        channel: "sms",
        business: { hours: 5 },
        credentials: { bad_key: "v" },
        extra: 1,
      }),
    );
    const bad = await rb.run("setup-customer", ["--from-file", file]);
    expect(bad.code).toBe(1);
    for (const path of ["phone:", "channel:", "business.hours:", "credentials", "extra"])
      expect(bad.stderr).toContain(path);
    const missing = await rb.run("setup-customer", ["--from-file", join(rb.dir, "nope.json")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such file");
    writeFileSync(file, "{ not json");
    const broken = await rb.run("setup-customer", ["--from-file", file]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("not valid JSON");
  });
});
