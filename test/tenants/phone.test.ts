import { describe, expect, test } from "bun:test";
import { ValidationError } from "../../src/errors.ts";
import { canonicalTimezone, isValidTimezone, newTenantSchema, normalizePhone } from "../../src/tenants/index.ts";

describe("normalizePhone", () => {
  const good: [string, string][] = [
    ["+1 (801) 555-1234", "+18015551234"],
    ["+18015551234", "+18015551234"],
    ["  +1.801.555.1234 ", "+18015551234"],
    ["+44 20 7946 0958", "+442079460958"],
    ["0044 20 7946 0958", "+442079460958"],
    ["+49-30-1234567", "+49301234567"],
    ["+44 (0)20 7946 0958", "+442079460958"],
    ["tel:+33 1 23 45 67 89", "+33123456789"],
    ["whatsapp:+14155238886", "+14155238886"],
    ["+12345678", "+12345678"], // 8 digits: the shortest allowed
    ["+123456789012345", "+123456789012345"], // 15 digits: the longest
  ];
  for (const [raw, expected] of good) {
    test(`${JSON.stringify(raw)} → ${expected}`, () => expect(normalizePhone(raw)).toBe(expected));
  }

  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["   ", /empty/],
    ["8015551234", /country code/],
    ["(801) 555-1234", /country code/],
    ["+1 801 555 CALL", /other than digits/],
    ["+1-801-555-1234 ext 5", /other than digits/],
    ["+0 801 555 1234", /never starts with 0/],
    ["+1234567", /7 digits/],
    ["+1234567890123456", /16 digits/],
    ["++18015551234", /other than digits/],
    ["hello", /country code/],
  ];
  for (const [raw, message] of bad) {
    test(`${JSON.stringify(raw)} is refused`, () => {
      let error: unknown;
      try {
        normalizePhone(raw);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe("invalid_phone");
      expect((error as ValidationError).message).toMatch(message);
    });
  }
});

describe("time zones", () => {
  test("IANA names are valid, others are not", () => {
    for (const tz of ["UTC", "America/Denver", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe"]) {
      expect(isValidTimezone(tz)).toBe(true);
    }
    for (const tz of ["", "Mars/Olympus", "America/Denverr", "+05:00", "-0700", "EST5EDT!", "x".repeat(100)]) {
      expect(isValidTimezone(tz)).toBe(false);
    }
  });

  test("spelling is canonicalised", () => {
    expect(canonicalTimezone("utc")).toBe("UTC");
    expect(canonicalTimezone("america/denver")).toBe("America/Denver");
  });

  test("newTenantSchema defaults the zone to UTC and names bad fields", () => {
    const ok = newTenantSchema.parse({ name: "Acme", phone: "+1 801 555 1234", channel: "telegram" });
    expect(ok).toMatchObject({ phone: "+18015551234", timezone: "UTC", business: {} });
    const bad = newTenantSchema.safeParse({ name: "", phone: "555", channel: "sms", timezone: "Nowhere/Land" });
    expect(bad.success).toBe(false);
    const paths = bad.error?.issues.map((i) => i.path.join(".")).sort();
    expect(paths).toEqual(["channel", "name", "phone", "timezone"]);
  });
});
