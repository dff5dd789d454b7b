import type { CommandIO } from "../../cli/command.ts";
import { UsageError } from "../../cli/command.ts";
import { CHANNELS } from "../index.ts";
import { ask } from "./support.ts";

/** The tenant fields a command takes as flags. */
export interface TenantFlags {
  name?: string;
  phone?: string;
  channel?: string;
  timezone?: string;
}

/** node:util parseArgs options for the tenant flags. */
export const TENANT_FLAG_OPTIONS = {
  name: { type: "string" },
  phone: { type: "string" },
  channel: { type: "string" },
  timezone: { type: "string" },
} as const;

export const TENANT_FLAGS_HELP = `  --name "Business Name"     The business's name
  --phone "+18015551234"     The owner's phone number (any notation; stored as E.164)
  --channel telegram|whatsapp
  --timezone America/Denver  IANA time zone (default UTC)`;

const PROMPTS: Record<"name" | "phone" | "channel", string> = {
  name: "Business name",
  phone: "Owner's phone number (e.g. +18015551234)",
  channel: `Channel (${CHANNELS.join("/")})`,
};

/**
 * Merges flags over `base` (an intake file's raw object, or {}), then fills the required fields
 * that are still missing by asking on the terminal. Without a terminal, a missing field is a
 * UsageError naming the flags to pass.
 */
export async function completeTenantFields(
  io: CommandIO,
  flags: TenantFlags,
  base: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const raw: Record<string, unknown> = { ...base };
  for (const key of ["name", "phone", "channel", "timezone"] as const) {
    if (flags[key] !== undefined) raw[key] = flags[key];
  }
  const missing: string[] = [];
  for (const field of ["name", "phone", "channel"] as const) {
    if (raw[field] !== undefined && raw[field] !== "") continue;
    const answer = await ask(io, PROMPTS[field]);
    if (answer === null) missing.push(`--${field}`);
    else raw[field] = answer;
  }
  if (io.isInteractive && raw.timezone === undefined) {
    const tz = await ask(io, "Time zone (IANA, e.g. America/Denver; empty for UTC)");
    if (tz) raw.timezone = tz;
  }
  if (missing.length > 0) {
    const why = io.isInteractive ? "" : " (stdin is not a terminal, so there is no prompt)";
    throw new UsageError(`Missing ${missing.join(", ")}${why}.`);
  }
  return raw;
}
