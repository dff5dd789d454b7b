import { UsageError } from "../cli/command.ts";
import type { CommandIO } from "../cli/command.ts";
import type { Config } from "../config.ts";
import type { AppContext } from "../context.ts";
import { createLinkCode, isTenantId, linkCodeUrl } from "../tenants/index.ts";
import type { NewLinkCode, Tenant } from "../tenants/index.ts";
import { z } from "zod";

/** The tenant id at `positionals[0]`; UsageError when absent or not a UUID. */
export function tenantIdArg(positionals: string[], usage: string): string {
  const id = positionals[0];
  if (!id) throw new UsageError(`Missing <tenant-id>. ${usage}`);
  if (!isTenantId(id)) throw new UsageError(`${JSON.stringify(positionals[0]?.slice(0, 60))} is not a tenant id (a UUID).`);
  if (positionals.length > 1) throw new UsageError(`Unexpected argument: ${positionals[1]}`);
  return id;
}

/** Asks for a value on the terminal; null when stdin is not a terminal or the answer is empty. */
export async function ask(io: CommandIO, question: string): Promise<string | null> {
  if (!io.isInteractive) return null;
  const answer = (await io.readLine(`${question}: `))?.trim();
  return answer ? answer : null;
}

/**
 * What the customer must do so their chat reaches their agent. `botUsername` (from telegramBotUsername)
 * names the bot: "to @name (https://t.me/name)"; without it, "to your Telegram bot". With `linkCode`
 * (a Telegram tenant with no chat yet), the one-time deep link comes first.
 */
export function linkInstructions(tenant: Tenant, config: Pick<Config, "TWILIO_WHATSAPP_FROM">, botUsername?: string | null, linkCode?: NewLinkCode | null): string {
  if (tenant.channel === "telegram") {
    if (tenant.telegram_chat_id) return `Telegram chat ${tenant.telegram_chat_id} is linked.`;
    const bot = botUsername ? `@${botUsername} (https://t.me/${botUsername})` : "your Telegram bot";
    const byPhone = `ask the customer to send "/start ${tenant.phone_number}" to ${bot} and tap "Share my phone number" (their Telegram account must use that number).`;
    if (!linkCode) return `To link: ${byPhone}`;
    const link = botUsername ? `this link: ${linkCodeUrl(botUsername, linkCode.code)}` : `"/start ${linkCode.code}" to your Telegram bot`;
    return [
      `To link: send the customer ${link}`,
      `  (one-time, valid until ${linkCode.expires_at}; only shown now — a new one replaces it: proxystaff link-code ${tenant.id}).`,
      `  Or ${byPhone}`,
    ].join("\n");
  }
  const to = config.TWILIO_WHATSAPP_FROM ? ` to ${config.TWILIO_WHATSAPP_FROM.replace(/^whatsapp:/, "")}` : " to your WhatsApp number";
  return `To link: ask the customer to send any WhatsApp message from ${tenant.phone_number}${to}; it links automatically.`;
}

/**
 * The link instructions as setup-customer and create-tenant print them: for a Telegram tenant with
 * no chat, a fresh one-time link code is made (replacing any earlier one) and the bot is named.
 */
export async function linkInstructionsWithCode(ctx: AppContext, tenant: Tenant): Promise<string> {
  if (!needsBotName(tenant) || tenant.status !== "ACTIVE") return linkInstructions(tenant, ctx.config);
  const [botUsername, code] = await Promise.all([telegramBotUsername(ctx.config), createLinkCode(ctx.db, tenant.id, ctx.clock.now())]);
  return linkInstructions(tenant, ctx.config, botUsername, code);
}

/** True when the link instructions would name the Telegram bot (a Telegram tenant with no chat yet). */
export function needsBotName(tenant: Tenant): boolean {
  return tenant.channel === "telegram" && !tenant.telegram_chat_id;
}

/** A one-line description: "Acme Plumbing" +18015551234 telegram, DISCOVERY, ACTIVE. */
export function describeTenant(t: Tenant): string {
  return `${JSON.stringify(t.name)} ${t.phone_number} ${t.channel}, ${t.onboarding_status}, ${t.status}, ${t.timezone}`;
}

/** Prints an object as pretty JSON (for --json). */
export function printJson(io: CommandIO, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** How long the link instructions wait for Telegram's getMe before falling back to "your Telegram bot". */
export const GET_ME_TIMEOUT_MS = 3000;

const getMeAnswer = z.object({ ok: z.literal(true), result: z.object({ username: z.string().min(1) }) });

/**
 * The bot's @username from Telegram's getMe (through TELEGRAM_API_ROOT), so the link instructions can
 * name the bot the customer must write to. Null when no TELEGRAM_BOT_TOKEN is set, or Telegram does not
 * answer well within the time limit: the caller then says "your Telegram bot". Never logs or throws
 * (the token is part of the URL, so not even an error message leaves this function).
 */
export async function telegramBotUsername(
  config: Pick<Config, "TELEGRAM_BOT_TOKEN" | "TELEGRAM_API_ROOT">,
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<string | null> {
  if (!config.TELEGRAM_BOT_TOKEN) return null;
  const url = `${config.TELEGRAM_API_ROOT.replace(/\/+$/, "")}/bot${config.TELEGRAM_BOT_TOKEN}/getMe`;
  try {
    const response = await (options.fetch ?? fetch)(url, { signal: AbortSignal.timeout(options.timeoutMs ?? GET_ME_TIMEOUT_MS) });
    const parsed = getMeAnswer.safeParse(await response.json());
    return parsed.success ? parsed.data.result.username : null;
  } catch {
    return null; // unreachable, slow or not JSON: the generic wording is still correct
  }
}
