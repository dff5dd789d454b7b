import { z } from "zod";
import { CHANNELS, ONBOARDING_STATUSES, TENANT_STATUSES } from "../db/schema.ts";
import { NotFoundError, ValidationError } from "../errors.ts";

export { CHANNELS, ONBOARDING_STATUSES, TENANT_STATUSES };
/** The chat platform a tenant's owner uses (`tenants.channel`); not channels/'s `Channel` (a platform's sender). */
export type TenantChannel = (typeof CHANNELS)[number];
export type OnboardingStatus = (typeof ONBOARDING_STATUSES)[number];
export type TenantStatus = (typeof TENANT_STATUSES)[number];

const text = z.string().trim().max(4000);
const textList = z.array(z.string().trim().min(1).max(500)).max(100);

/**
 * What the agent knows about the business. Every field is optional; unknown fields are kept
 * (passthrough), so the agent's update_business_profile tool can record anything the owner says.
 */
export const businessProfileSchema = z.looseObject({
  industry: text.optional(),
  location: text.optional(),
  hours: z.union([text, textList]).optional(),
  services: z.union([text, textList]).optional(),
  notes: text.optional(),
  email: z.email().optional(),
  website: text.optional(),
  owner_name: text.optional(),
  team: z.union([text, textList]).optional(),
  customers: text.optional(),
  goals: z.union([text, textList]).optional(),
});

/** The business profile as stored in `tenants.business` (JSON). */
export type BusinessProfile = z.infer<typeof businessProfileSchema>;

/** An IANA time zone name, checked against the runtime's tz database. */
export const timezoneSchema = z.string().transform((raw, ctx) => {
  const tz = canonicalTimezone(raw);
  if (tz) return tz;
  ctx.addIssue({ code: "custom", message: "must be an IANA time zone such as America/Denver or UTC" });
  return z.NEVER;
});

/** A phone number in any common notation, normalised to E.164. */
export const phoneSchema = z.string().transform((raw, ctx) => {
  try {
    return normalizePhone(raw);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : "invalid phone number" });
    return z.NEVER;
  }
});

/** A tenant as the rest of the code sees it (business parsed from JSON). */
export interface Tenant {
  id: string;
  name: string;
  phone_number: string;
  channel: TenantChannel;
  telegram_chat_id: string | null;
  status: TenantStatus;
  onboarding_status: OnboardingStatus;
  timezone: string;
  business: BusinessProfile;
  /** Monthly model budget in USD (null: TENANT_MONTHLY_BUDGET_USD applies; see src/usage/budget.ts). */
  monthly_budget_usd: number | null;
  /** The instance holding the workspace (runs its turns and tasks); null until an instance adopts it. */
  instance_id: string | null;
  created_at: string;
  updated_at: string;
}

/** Why a tenant's messages and tasks are not run: gone, archived or paused. */
export type ServingRefusal = "tenant_not_found" | "tenant_archived" | "tenant_paused";

/**
 * Whether this tenant may be served now (its messages answered by the agent, its tasks run): null when it
 * may, else the reason. The one rule for the pipeline, the turn runner and the scheduler.
 */
export function servingRefusal(tenant: Tenant | null): ServingRefusal | null {
  if (!tenant) return "tenant_not_found";
  if (tenant.status === "ARCHIVED") return "tenant_archived";
  if (tenant.onboarding_status === "PAUSED") return "tenant_paused";
  return null;
}

/** Input of createTenant (the admin API body and the intake file share it). */
export const newTenantSchema = z.object({
  name: z.string().trim().min(1, "must not be empty").max(200),
  phone: phoneSchema,
  channel: z.enum(CHANNELS),
  timezone: timezoneSchema.default("UTC"),
  business: businessProfileSchema.default({}),
  /** The instance that will hold the workspace (default: the one creating it; another one answers wrong_instance). */
  instance_id: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "must be an instance id (see GET /admin/instances)")
    .optional(),
});
export type NewTenantInput = z.input<typeof newTenantSchema>;

/**
 * A change to the business profile: fields are merged into the stored profile, a field set to
 * null is removed; the merged profile must satisfy businessProfileSchema.
 */
export const businessPatchSchema = z.record(
  z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, "field names are letters, digits and _"),
  z.unknown(),
);

/** What updateTenant may change; every field optional, at least one required. */
export const tenantPatchSchema = z
  .object({
    name: z.string().trim().min(1, "must not be empty").max(200).optional(),
    timezone: timezoneSchema.optional(),
    business: businessPatchSchema.optional(),
    onboarding_status: z.enum(ONBOARDING_STATUSES).optional(),
    /** USD per tenant-local calendar month; null clears it (TENANT_MONTHLY_BUDGET_USD applies again). */
    monthly_budget_usd: z
      .number()
      .positive("must be a positive number of US dollars")
      .max(1_000_000)
      .nullable()
      .optional(),
  })
  .strict()
  .refine((p) => Object.values(p).some((v) => v !== undefined), { message: "nothing to update" });
export type TenantPatch = z.input<typeof tenantPatchSchema>;

/** Filters and paging of listTenants. */
export interface ListTenantsOptions {
  status?: TenantStatus;
  onboarding_status?: OnboardingStatus;
  /** Page size. Default 50. */
  limit?: number;
  /** Rows to skip. Default 0. */
  offset?: number;
}

/**
 * Normalises a phone number to E.164 ("+1 (801) 555-1234" → "+18015551234").
 * Accepts spaces, dashes, dots, slashes and parentheses as separators (a "(0)" trunk prefix is
 * dropped), an optional "tel:" or "whatsapp:" scheme (Twilio's sender format), a leading "+" or
 * international "00" prefix, and requires 8–15 digits with a country code starting 1–9.
 * Throws ValidationError (code `invalid_phone`) saying what is wrong otherwise.
 */
export function normalizePhone(raw: string): string {
  const input = String(raw ?? "").trim();
  const shown = JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input);
  if (input === "") throw invalid(`Phone number is empty; use international format, e.g. +18015551234.`);
  // "(0)" is the national trunk prefix some people write after the country code: not dialled.
  const compact = input
    .replace(/^(tel|whatsapp):/i, "")
    .replace(/\(0\)/g, "")
    .replace(/[\s\-.()/\u00a0]/g, "");
  let digits: string;
  if (compact.startsWith("+")) digits = compact.slice(1);
  else if (compact.startsWith("00")) digits = compact.slice(2);
  else {
    throw invalid(
      `Phone number ${shown} has no country code; start it with + and the country code, e.g. +18015551234.`,
    );
  }
  if (!/^\d+$/.test(digits)) {
    throw invalid(`Phone number ${shown} contains characters other than digits and separators.`);
  }
  if (digits.startsWith("0")) throw invalid(`Phone number ${shown}: a country code never starts with 0.`);
  if (digits.length < 8 || digits.length > 15) {
    throw invalid(`Phone number ${shown} has ${digits.length} digits; E.164 numbers have 8 to 15.`);
  }
  return `+${digits}`;
}

function invalid(message: string): ValidationError {
  return new ValidationError(message, "invalid_phone");
}

/** True when `tz` is an IANA time zone name the runtime knows (e.g. "America/Denver", "UTC"). */
export function isValidTimezone(tz: string): boolean {
  return canonicalTimezone(tz) !== null;
}

/**
 * The runtime's canonical spelling of an IANA zone ("utc" → "UTC", "america/denver" →
 * "America/Denver"), or null when it is not one. Raw offsets such as "+05:00" are refused:
 * they have no daylight-saving rules, so schedules would drift.
 */
export function canonicalTimezone(tz: string): string | null {
  if (typeof tz !== "string") return null;
  const name = tz.trim();
  if (name === "" || name.length > 64 || !/^[A-Za-z]/.test(name)) return null;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null; // RangeError: unknown time zone — that is the answer, not a failure
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` looks like a tenant id (a UUID). */
export function isTenantId(id: unknown): id is string {
  return typeof id === "string" && UUID.test(id);
}

/** Throws ValidationError unless `id` is a UUID; the guard in front of every filesystem path. */
export function assertTenantId(id: unknown): asserts id is string {
  if (!isTenantId(id)) throw new ValidationError("Tenant id must be a UUID.", "invalid_tenant_id");
}

/** The error for an id that names no tenant. */
export function tenantNotFound(id: string): NotFoundError {
  const shown = isTenantId(id) ? id : JSON.stringify(String(id).slice(0, 60));
  return new NotFoundError("tenant_not_found", `No tenant with id ${shown}.`);
}
