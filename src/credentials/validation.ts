import { z } from "zod";
import { ValidationError } from "../errors.ts";

/** Credential key names: an upper-case letter, then upper-case letters, digits and _ (max 64). */
export const CREDENTIAL_KEY_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;
/** The largest value the vault stores, in UTF-8 bytes. */
export const MAX_CREDENTIAL_VALUE_BYTES = 64 * 1024;

const KEY_RULE = "must match ^[A-Z][A-Z0-9_]{0,63}$ (e.g. SENDGRID_API_KEY)";

/** A credential key name (zod), for route parameters and bodies. */
export const credentialKeySchema = z
  .string()
  .regex(CREDENTIAL_KEY_PATTERN, KEY_RULE);

/** A credential value (zod): a non-empty string of at most 64 KiB. */
export const credentialValueSchema = z
  .string()
  .min(1, "must not be empty (delete the credential instead)")
  .refine((v) => Buffer.byteLength(v, "utf8") <= MAX_CREDENTIAL_VALUE_BYTES, "must be at most 64 KiB");

/**
 * `{KEY: VALUE, …}` as the admin API and intake files take it. Errors name the field and say
 * what is expected: a missing/non-object field, and each bad key by its name (zod's own record-key
 * error only says "Invalid key in record").
 */
export const credentialRecordSchema = z
  .record(z.string(), credentialValueSchema, {
    error: (issue) =>
      issue.input === undefined ? 'required: an object {"KEY": "value", …}' : 'must be an object {"KEY": "value", …}',
  })
  .superRefine((record, ctx) => {
    for (const key of Object.keys(record)) {
      if (!CREDENTIAL_KEY_PATTERN.test(key)) ctx.addIssue({ code: "custom", path: [key], message: `key ${KEY_RULE}` });
    }
  });

/** Throws ValidationError `invalid_credential` naming the key (never the value) when it is not acceptable. */
export function checkCredential(key: string, value: unknown): string {
  if (!CREDENTIAL_KEY_PATTERN.test(key)) {
    throw new ValidationError(
      `Credential key ${JSON.stringify(key.slice(0, 80))} is invalid: it must match ^[A-Z][A-Z0-9_]{0,63}$ (e.g. SENDGRID_API_KEY).`,
      "invalid_credential",
    );
  }
  if (typeof value !== "string") throw new ValidationError(`Credential ${key}: the value must be a string.`, "invalid_credential");
  if (value.length === 0) {
    throw new ValidationError(`Credential ${key}: the value is empty; delete the credential instead.`, "invalid_credential");
  }
  if (Buffer.byteLength(value, "utf8") > MAX_CREDENTIAL_VALUE_BYTES) {
    throw new ValidationError(`Credential ${key}: the value is larger than 64 KiB.`, "invalid_credential");
  }
  return value;
}

/** "••••abcd": at most the last 4 characters shown, and only for values of 12 characters or more. */
export function maskValue(value: string): string {
  const chars = Array.from(value);
  if (chars.length < 12) return "••••••••";
  return `••••${chars.slice(-4).join("")}`;
}
