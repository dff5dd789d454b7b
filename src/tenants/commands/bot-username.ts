import { z } from "zod";
import type { Config } from "../../config.ts";

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
