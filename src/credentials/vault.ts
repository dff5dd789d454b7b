import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";

const ALGORITHM = "aes-256-gcm";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** One encrypted value as stored in a `credentials` row (base64 text columns). */
export interface SealedValue {
  ciphertext: string;
  iv: string;
  tag: string;
  /** Fingerprint of the key that sealed it (see keyVersion). */
  key_version: string;
}

/** A short, stable fingerprint of a vault key: the first 8 hex digits of SHA-256 of its bytes. */
export function keyVersion(keyBase64: string): string {
  return createHash("sha256").update(Buffer.from(keyBase64, "base64")).digest("hex").slice(0, 8);
}

/** Raised when a stored credential cannot be decrypted with any configured key. */
export class CredentialUndecryptableError extends AppError {
  override name = "CredentialUndecryptableError";
  constructor(tenantId: string, key: string, why: string, options?: ErrorOptions) {
    super("credential_undecryptable", `Cannot decrypt credential ${key} of tenant ${tenantId}: ${why}`, 500, options);
  }
}

/** Vaults already built, by config (read before every agent run: the keys are decoded and fingerprinted once). */
const vaultsByConfig = new WeakMap<
  object,
  { current: string; previous: readonly string[] | undefined; vault: Vault }
>();

/**
 * AES-256-GCM with a fresh random 12-byte IV per value. The additional authenticated data is
 * `tenantId + "\0" + key`, so a ciphertext copied to another tenant or key name fails to
 * decrypt. Values are sealed with the current key; the previous keys (CREDENTIALS_KEY_PREVIOUS)
 * are found by their version and only ever used to open.
 */
export class Vault {
  readonly currentVersion: string;
  private readonly current: Buffer;
  private readonly keys = new Map<string, Buffer>();

  /** `current` and `previous` are 32-byte keys in base64 (as in the environment). */
  constructor(current: string, previous: readonly string[] = []) {
    this.current = decodeKey(current);
    this.currentVersion = keyVersion(current);
    for (const key of previous) this.keys.set(keyVersion(key), decodeKey(key));
    this.keys.set(this.currentVersion, this.current);
  }

  /** The vault of a config: CREDENTIALS_KEY plus CREDENTIALS_KEY_PREVIOUS (built once per config and keys). */
  static fromConfig(config: Pick<Config, "CREDENTIALS_KEY" | "CREDENTIALS_KEY_PREVIOUS">): Vault {
    const known = vaultsByConfig.get(config);
    if (known && known.current === config.CREDENTIALS_KEY && known.previous === config.CREDENTIALS_KEY_PREVIOUS)
      return known.vault;
    const vault = new Vault(config.CREDENTIALS_KEY, config.CREDENTIALS_KEY_PREVIOUS);
    vaultsByConfig.set(config, {
      current: config.CREDENTIALS_KEY,
      previous: config.CREDENTIALS_KEY_PREVIOUS,
      vault,
    });
    return vault;
  }

  /** True when a value sealed with this key version can be opened. */
  hasVersion(version: string): boolean {
    return this.keys.has(version);
  }

  /** Encrypts one value for (tenantId, key) with the current key and a fresh IV. */
  seal(tenantId: string, key: string, plaintext: string): SealedValue {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.current, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(tenantId, key));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return {
      ciphertext: ciphertext.toString("base64"),
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      key_version: this.currentVersion,
    };
  }

  /** Decrypts a sealed value; CredentialUndecryptableError (never garbage) when it cannot. */
  open(tenantId: string, key: string, sealed: SealedValue): string {
    const secret = this.keys.get(sealed.key_version);
    if (!secret) {
      throw new CredentialUndecryptableError(
        tenantId,
        key,
        `it was encrypted with key version ${sealed.key_version}, which is neither CREDENTIALS_KEY (${this.currentVersion}) nor in CREDENTIALS_KEY_PREVIOUS.`,
      );
    }
    try {
      const iv = Buffer.from(sealed.iv, "base64");
      const tag = Buffer.from(sealed.tag, "base64");
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error("malformed iv or tag");
      const decipher = createDecipheriv(ALGORITHM, secret, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(tenantId, key));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, "base64")), decipher.final()]).toString(
        "utf8",
      );
    } catch (err) {
      throw new CredentialUndecryptableError(
        tenantId,
        key,
        `authentication failed (wrong key for version ${sealed.key_version}, or the row was altered or copied from another tenant or key).`,
        { cause: err },
      );
    }
  }
}

function aad(tenantId: string, key: string): Buffer {
  return Buffer.from(`${tenantId}\0${key}`, "utf8");
}

function decodeKey(base64: string): Buffer {
  const bytes = Buffer.from(base64, "base64");
  if (bytes.length !== 32) throw new Error("A vault key must be 32 bytes encoded as base64.");
  return bytes;
}
