import { z } from "zod";
import { CHANNELS, ONBOARDING_STATUSES, TENANT_STATUSES } from "../db/schema.ts";
import { normalizePhone } from "./phone.ts";
import { canonicalTimezone } from "./timezone.ts";

export { CHANNELS, ONBOARDING_STATUSES, TENANT_STATUSES };
export type Channel = (typeof CHANNELS)[number];
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
  channel: Channel;
  telegram_chat_id: string | null;
  status: TenantStatus;
  onboarding_status: OnboardingStatus;
  timezone: string;
  business: BusinessProfile;
  created_at: string;
  updated_at: string;
}

/** Input of createTenant (the admin API body and the intake file share it). */
export const newTenantSchema = z.object({
  name: z.string().trim().min(1, "must not be empty").max(200),
  phone: phoneSchema,
  channel: z.enum(CHANNELS),
  timezone: timezoneSchema.default("UTC"),
  business: businessProfileSchema.default({}),
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
