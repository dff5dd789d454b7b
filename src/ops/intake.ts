import { readFileSync } from "node:fs";
import { z } from "zod";
import { credentialKeySchema, credentialValueSchema } from "../credentials/index.ts";
import { describeZodError, ValidationError } from "../errors.ts";
import { newTenantSchema } from "../tenants/index.ts";

/**
 * A customer intake file (docs/customer-intake-template.json): the tenant's fields plus the
 * credentials to store in the vault. An empty credential value means "not known yet" and is
 * skipped. Unknown top-level fields are refused, so a typo cannot silently drop data.
 */
export const intakeSchema = newTenantSchema
  .extend({
    credentials: z
      .record(z.string(), intakeCredentialValue())
      .superRefine((record, ctx) => {
        // zod's own record-key error only says "Invalid key in record": name the rule instead.
        for (const key of Object.keys(record)) {
          const checked = credentialKeySchema.safeParse(key);
          if (!checked.success)
            ctx.addIssue({ code: "custom", path: [key], message: `key ${checked.error.issues[0]?.message}` });
        }
      })
      .default({}),
  })
  .strict();

/**
 * An intake credential: "" (not known yet), a string, or a JSON object — e.g. a service account key
 * pasted as it is into GOOGLE_CREDENTIALS_JSON — stored as its JSON text.
 */
function intakeCredentialValue() {
  const asText = (value: unknown) =>
    value !== null && typeof value === "object" && !Array.isArray(value) ? JSON.stringify(value) : value;
  return z.preprocess(
    asText,
    z.union([z.literal(""), credentialValueSchema], {
      error: (issue) =>
        typeof issue.input === "string" ? undefined : "must be a string (or a JSON object, stored as its JSON text)",
    }),
  );
}

/** A parsed intake file: phone normalised to E.164, timezone canonical. */
export type Intake = z.output<typeof intakeSchema>;

/** Validates an intake object; ValidationError `invalid_intake` naming every bad field path. */
export function parseIntake(data: unknown, source = "intake"): Intake {
  const parsed = intakeSchema.safeParse(data);
  if (!parsed.success)
    throw new ValidationError(`${source} is invalid: ${describeZodError(parsed.error)}`, "invalid_intake");
  return parsed.data;
}

/** Reads an intake JSON file without validating it; errors say which file and why. */
export function readIntakeJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new ValidationError(`Cannot read intake file ${path}: ${why}.`, "intake_unreadable");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ValidationError(`Intake file ${path} is not valid JSON: ${(err as Error).message}`, "invalid_intake");
  }
}

/** Reads and validates an intake JSON file; errors say which file and which field. */
export function readIntakeFile(path: string): Intake {
  return parseIntake(readIntakeJson(path), `Intake file ${path}`);
}

/** The intake's credentials that have a value (empty placeholders dropped). */
export function intakeCredentials(intake: Pick<Intake, "credentials">): Record<string, string> {
  return Object.fromEntries(Object.entries(intake.credentials).filter(([, v]) => v !== ""));
}
