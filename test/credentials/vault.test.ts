import { describe, expect, test } from "bun:test";
import { maskValue } from "../../src/credentials/store.ts";
import { CredentialUndecryptableError, keyVersion, Vault } from "../../src/credentials/vault.ts";

const key = (fill: number) => Buffer.alloc(32, fill).toString("base64");
const TENANT = "0b5c7a8e-1d2f-4e3a-9b4c-5d6e7f8a9b0c";
const OTHER = "1c6d8b9f-2e3a-4f4b-8c5d-6e7f8a9b0c1d";

describe("Vault", () => {
  test("round trip, with a fresh 12-byte IV per value", () => {
    const vault = new Vault(key(1));
    const a = vault.seal(TENANT, "SENDGRID_API_KEY", "SG.secret-value");
    const b = vault.seal(TENANT, "SENDGRID_API_KEY", "SG.secret-value");
    expect(Buffer.from(a.iv, "base64")).toHaveLength(12);
    expect(Buffer.from(a.tag, "base64")).toHaveLength(16);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.key_version).toBe(keyVersion(key(1)));
    expect(a.key_version).toMatch(/^[0-9a-f]{8}$/);
    expect(vault.open(TENANT, "SENDGRID_API_KEY", a)).toBe("SG.secret-value");
    const unicode = "pässwörd 🔑 \n multi-line";
    expect(vault.open(TENANT, "X", vault.seal(TENANT, "X", unicode))).toBe(unicode);
  });

  test("AAD binds tenant and key: a copied ciphertext does not open", () => {
    const vault = new Vault(key(1));
    const sealed = vault.seal(TENANT, "SENDGRID_API_KEY", "SG.secret-value");
    expect(() => vault.open(OTHER, "SENDGRID_API_KEY", sealed)).toThrow(CredentialUndecryptableError);
    expect(() => vault.open(TENANT, "OTHER_KEY", sealed)).toThrow(CredentialUndecryptableError);
    // "\0" separates the parts, so shifting characters between them changes the AAD too.
    const shifted = vault.seal("ab", "C", "v");
    expect(() => vault.open("a", "BC", shifted)).toThrow(CredentialUndecryptableError);
  });

  test("tampering is detected", () => {
    const vault = new Vault(key(1));
    const sealed = vault.seal(TENANT, "K", "value");
    const bytes = Buffer.from(sealed.ciphertext, "base64");
    bytes[0] = bytes[0]! ^ 1;
    expect(() => vault.open(TENANT, "K", { ...sealed, ciphertext: bytes.toString("base64") })).toThrow(
      /authentication failed/,
    );
    expect(() => vault.open(TENANT, "K", { ...sealed, tag: Buffer.alloc(16).toString("base64") })).toThrow(
      CredentialUndecryptableError,
    );
    expect(() => vault.open(TENANT, "K", { ...sealed, iv: "AAAA" })).toThrow(CredentialUndecryptableError);
  });

  test("previous keys still open by version; only the current key seals", () => {
    const old = new Vault(key(1));
    const sealed = old.seal(TENANT, "K", "value");
    const rotated = new Vault(key(2), [key(3), key(1)]);
    expect(rotated.open(TENANT, "K", sealed)).toBe("value");
    expect(rotated.seal(TENANT, "K", "value").key_version).toBe(keyVersion(key(2)));
    expect(rotated.hasVersion(keyVersion(key(1)))).toBe(true);
  });

  test("a wrong key is a clear error naming tenant and key, never garbage", () => {
    const sealed = new Vault(key(1)).seal(TENANT, "SENDGRID_API_KEY", "SG.secret-value");
    let error: unknown;
    try {
      new Vault(key(2)).open(TENANT, "SENDGRID_API_KEY", sealed);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CredentialUndecryptableError);
    const e = error as CredentialUndecryptableError;
    expect(e.code).toBe("credential_undecryptable");
    expect(e.message).toContain(TENANT);
    expect(e.message).toContain("SENDGRID_API_KEY");
    expect(e.message).toContain("CREDENTIALS_KEY_PREVIOUS");
    expect(e.message).not.toContain("SG.secret-value");
    // Same version label but different bytes (a forged or corrupted version): authentication fails.
    const forged = { ...sealed, key_version: keyVersion(key(2)) };
    expect(() => new Vault(key(2)).open(TENANT, "SENDGRID_API_KEY", forged)).toThrow(/authentication failed/);
  });
});

describe("maskValue", () => {
  test("shows at most the last 4 characters, and nothing of short values", () => {
    expect(maskValue("SG.abcdefghijklmnop")).toBe("••••mnop");
    expect(maskValue("short")).toBe("••••••••");
    expect(maskValue("elevenchars")).toBe("••••••••");
    expect(maskValue("twelve-chars")).toBe("••••hars");
  });
});
