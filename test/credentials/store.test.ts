import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import {
  deleteCredential,
  getCredential,
  listCredentials,
  rotateCredentialsKey,
  setCredentials,
  tenantEnvironment,
} from "../../src/credentials/index.ts";
import { getCredentials } from "../../src/credentials/store.ts";
import { keyVersion } from "../../src/credentials/vault.ts";
import { NotFoundError, ValidationError } from "../../src/errors.ts";
import type { Tenant } from "../../src/tenants/index.ts";
import { createTenant, workspacePath } from "../../src/tenants/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, fileDatabaseOnly, rejectionOf, TEST_CREDENTIALS_KEY } from "../helpers/index.ts";

const key = (fill: number) => Buffer.alloc(32, fill).toString("base64");

let t: TestContext;
let tenant: Tenant;
const extra: TestContext[] = [];
beforeEach(async () => {
  t = await createTestContext();
  tenant = await createTenant(t.ctx, { name: "Acme", phone: "+18015551234", channel: "telegram" });
});
afterEach(async () => {
  for (const x of extra.splice(0)) await x.cleanup();
  await t.cleanup();
});

/** A second context on the same database and tenants folder, with other keys. */
async function reopen(env: Record<string, string>): Promise<TestContext> {
  const other = await createTestContext({
    env: { DATA_DIR: t.ctx.config.DATA_DIR, TENANTS_DIR: t.ctx.config.TENANTS_DIR, ...env },
  });
  extra.push(other);
  return other;
}

const readsFile = fileDatabaseOnly("one credentials test reads the bytes of the database file and its WAL");

describe("credentials store", () => {
  test("set merges, list masks, get decrypts, delete removes", async () => {
    expect(
      await setCredentials(t.ctx, tenant.id, {
        SENDGRID_API_KEY: "SG.first-value-0001",
        SENDGRID_FROM_EMAIL: "hi@acme.test",
      }),
    ).toEqual(["SENDGRID_API_KEY", "SENDGRID_FROM_EMAIL"]);
    expect(
      await setCredentials(t.ctx, tenant.id, {
        SENDGRID_API_KEY: "SG.second-value-0002",
        GMAIL_REFRESH_TOKEN: "1//refresh-abcdef",
      }),
    ).toEqual(["GMAIL_REFRESH_TOKEN", "SENDGRID_API_KEY", "SENDGRID_FROM_EMAIL"]);
    const listed = await listCredentials(t.ctx, tenant.id);
    expect(listed.map((c) => [c.key, c.masked])).toEqual([
      ["GMAIL_REFRESH_TOKEN", "••••cdef"],
      ["SENDGRID_API_KEY", "••••0002"],
      ["SENDGRID_FROM_EMAIL", "••••test"],
    ]);
    expect(listed[0]!.updated_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await getCredentials(t.ctx, tenant.id)).toEqual({
      GMAIL_REFRESH_TOKEN: "1//refresh-abcdef",
      SENDGRID_API_KEY: "SG.second-value-0002",
      SENDGRID_FROM_EMAIL: "hi@acme.test",
    });
    expect(await getCredential(t.ctx, tenant.id, "SENDGRID_API_KEY")).toBe("SG.second-value-0002");
    expect(await getCredential(t.ctx, tenant.id, "MISSING")).toBeNull();
    expect(await deleteCredential(t.ctx, tenant.id, "GMAIL_REFRESH_TOKEN")).toBe(true);
    expect(await deleteCredential(t.ctx, tenant.id, "GMAIL_REFRESH_TOKEN")).toBe(false);
    await expect(deleteCredential(t.ctx, tenant.id, "../x")).rejects.toThrow(ValidationError);
    expect((await listCredentials(t.ctx, tenant.id)).map((c) => c.key)).toEqual([
      "SENDGRID_API_KEY",
      "SENDGRID_FROM_EMAIL",
    ]);
  });

  test("bad keys and values are refused, naming the key, and nothing is written", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ sendgrid_key: "x".repeat(20) }, /"sendgrid_key" is invalid/],
      [{ "1KEY": "value-value" }, /"1KEY"/],
      [{ ["K".repeat(65)]: "value" }, /invalid/],
      [{ GOOD_KEY: "fine-value", EMPTY: "" }, /Credential EMPTY: the value is empty/],
      [{ BIG: "x".repeat(64 * 1024 + 1) }, /Credential BIG: the value is larger than 64 KiB/],
      [{ NUM: 42 }, /Credential NUM: the value must be a string/],
    ];
    for (const [record, message] of cases) {
      const err = await rejectionOf(setCredentials(t.ctx, tenant.id, record));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toMatch(message);
    }
    expect(await setCredentials(t.ctx, tenant.id, { MAX_SIZE: "x".repeat(64 * 1024) })).toEqual(["MAX_SIZE"]);
    expect(await listCredentials(t.ctx, tenant.id)).toHaveLength(1); // GOOD_KEY was not written either
  });

  test("unknown tenants are tenant_not_found", async () => {
    const err = await rejectionOf(setCredentials(t.ctx, "00000000-0000-4000-8000-000000000000", { A_KEY: "value" }));
    expect(err).toBeInstanceOf(NotFoundError);
    await expect(listCredentials(t.ctx, "nope")).rejects.toThrow(/No tenant/);
  });

  test.skipIf(readsFile)(
    "no plaintext of stored secrets in the database file or its WAL, nor in the logs",
    async () => {
      const secrets = {
        SENDGRID_API_KEY: "SG.PLAINTEXT-CANARY-7f3a9c1e",
        GOOGLE_CREDENTIALS_JSON: '{"private_key":"CANARY-PRIVATE-KEY-2b8d"}',
        OTHER_SECRET: "canary-ünïcode-secret-55aa",
      };
      await setCredentials(t.ctx, tenant.id, secrets);
      await setCredentials(t.ctx, tenant.id, { SENDGRID_API_KEY: "SG.PLAINTEXT-CANARY-second-9d0e" });
      await getCredentials(t.ctx, tenant.id);
      const dbPath = t.ctx.database.path!;
      const files = [dbPath, `${dbPath}-wal`].filter(existsSync);
      expect(files.length).toBe(2); // the WAL holds the recent writes: it must be checked too
      const values = [...Object.values(secrets), "SG.PLAINTEXT-CANARY-second-9d0e"];
      for (const file of files) {
        const bytes = readFileSync(file);
        for (const value of values) {
          expect(bytes.includes(Buffer.from(value, "utf8"))).toBe(false);
          expect(bytes.includes(Buffer.from("CANARY", "utf8"))).toBe(false);
        }
      }
      // And the stored row is really there, sealed.
      const rows = await t.ctx.db.all<{ key: string; ciphertext: string; key_version: string }>(
        sql`SELECT key, ciphertext, key_version FROM credentials`,
      );
      expect(rows).toHaveLength(3);
      expect(rows.every((r) => r.key_version === keyVersion(TEST_CREDENTIALS_KEY))).toBe(true);
      const logText = JSON.stringify(t.logs);
      for (const value of values) expect(logText).not.toContain(value);
    },
  );
});

describe("key rotation", () => {
  test("previous keys decrypt; rotation re-encrypts and reports counts; then the old key can go", async () => {
    await setCredentials(t.ctx, tenant.id, { A_KEY: "value-a-123456", B_KEY: "value-b-123456" });
    const rotated = await reopen({
      CREDENTIALS_KEY: key(9),
      CREDENTIALS_KEY_PREVIOUS: `${key(8)},${TEST_CREDENTIALS_KEY}`,
    });
    await setCredentials(rotated.ctx, tenant.id, { C_KEY: "value-c-123456" }); // already sealed with the new key
    expect(await getCredentials(rotated.ctx, tenant.id)).toEqual({
      A_KEY: "value-a-123456",
      B_KEY: "value-b-123456",
      C_KEY: "value-c-123456",
    });

    expect(await rotateCredentialsKey(rotated.ctx)).toEqual({ rotated: 2, alreadyCurrent: 1, failed: 0, failures: [] });
    expect(await rotateCredentialsKey(rotated.ctx)).toMatchObject({ rotated: 0, alreadyCurrent: 3, failed: 0 });

    const onlyNew = await reopen({ CREDENTIALS_KEY: key(9) });
    expect(await getCredentials(onlyNew.ctx, tenant.id)).toEqual({
      A_KEY: "value-a-123456",
      B_KEY: "value-b-123456",
      C_KEY: "value-c-123456",
    });
  });

  test("rows under an unknown key are counted as failed and left as they are", async () => {
    await setCredentials(t.ctx, tenant.id, { A_KEY: "value-a-123456" });
    const stranger = await reopen({ CREDENTIALS_KEY: key(5) });
    await setCredentials(stranger.ctx, tenant.id, { B_KEY: "value-b-123456" });
    const report = await rotateCredentialsKey(stranger.ctx);
    expect(report).toMatchObject({ rotated: 0, alreadyCurrent: 1, failed: 1 });
    expect(report.failures).toEqual([{ tenant_id: tenant.id, key: "A_KEY", reason: expect.stringContaining("A_KEY") }]);
    await expect(getCredentials(t.ctx, tenant.id)).rejects.toThrow(/credential B_KEY/); // B is sealed under key 5
  });

  test("a wrong key gives credential_undecryptable naming tenant and key; listing still works", async () => {
    await setCredentials(t.ctx, tenant.id, { SENDGRID_API_KEY: "SG.value-1234567890" });
    const wrong = await reopen({ CREDENTIALS_KEY: key(6) });
    const err = await rejectionOf(getCredentials(wrong.ctx, tenant.id));
    expect((err as { code?: string }).code).toBe("credential_undecryptable");
    expect(err.message).toContain(tenant.id);
    expect(err.message).toContain("SENDGRID_API_KEY");
    expect(err.message).not.toContain("SG.value");
    expect((await listCredentials(wrong.ctx, tenant.id))[0]!.masked).toContain("undecryptable");
  });
});

describe("tenantEnvironment", () => {
  test("the workspace .env merged with the vault; the vault wins", async () => {
    writeFileSync(
      join(workspacePath(t.ctx.config, tenant.id), ".env"),
      '# local\nSENDGRID_API_KEY=from-file\nexport LOCAL_ONLY="a \\"quoted\\" value"\nNOT A LINE\n',
    );
    await setCredentials(t.ctx, tenant.id, { SENDGRID_API_KEY: "SG.from-vault-12345" });
    expect(await tenantEnvironment(t.ctx, tenant)).toEqual({
      SENDGRID_API_BASE: "https://api.sendgrid.com",
      SENDGRID_API_KEY: "SG.from-vault-12345",
      LOCAL_ONLY: 'a "quoted" value',
    });
  });
});
