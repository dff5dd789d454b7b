import { describe, expect, test } from "bun:test";
import { intakeCredentials, parseIntake } from "../../src/ops/intake.ts";

const base = { name: "Acme Plumbing", phone: "+1 (801) 555-0199", channel: "telegram" };
const credentialsOf = (credentials: unknown) => intakeCredentials(parseIntake({ ...base, credentials }));
const errorOf = (credentials: unknown) => {
  try {
    parseIntake({ ...base, credentials });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected the intake to be refused");
};

describe("intake credentials", () => {
  test("a service account key pasted as a JSON object is stored as its JSON text; empty values are skipped", () => {
    const key = { type: "service_account", project_id: "acme", private_key: "-----BEGIN PRIVATE KEY-----\n…" };
    expect(credentialsOf({ GOOGLE_CREDENTIALS_JSON: key, SENDGRID_API_KEY: "SG.x", SENDGRID_FROM_EMAIL: "" })).toEqual({
      GOOGLE_CREDENTIALS_JSON: JSON.stringify(key),
      SENDGRID_API_KEY: "SG.x",
    });
  });

  test("errors name the field and the rule", () => {
    expect(errorOf({ SENDGRID_API_KEY: 42 })).toContain(
      "credentials.SENDGRID_API_KEY: must be a string (or a JSON object",
    );
    expect(errorOf({ LIST: ["a"] })).toContain("credentials.LIST: must be a string");
    expect(errorOf({ "sendgrid key": "x" })).toContain(
      "credentials.sendgrid key: key must match ^[A-Z][A-Z0-9_]{0,63}$",
    );
    expect(errorOf({ BIG: "x".repeat(64 * 1024 + 1) })).toContain("credentials.BIG: must be at most 64 KiB");
  });
});
