import { ValidationError } from "../errors.ts";

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
