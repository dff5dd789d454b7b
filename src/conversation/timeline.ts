import { appendFile, mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { AppContext } from "../context.ts";
import { resolveInWorkspace } from "../tenants/index.ts";

/** The tenant fields the timeline needs. */
export interface TimelineTenant {
  id: string;
  timezone: string;
}

/** Longest text a timeline line quotes from a message (the message row keeps the whole text). */
const MAX_QUOTE_CHARS = 300;

/** The tenant-local date ("2026-11-26") and time ("14:05") of an instant. */
export function localDateTime(atMs: number, timezone: string): { date: string; time: string } {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: timezone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(atMs));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "00";
  return { date: `${get("year")}-${get("month")}-${get("day")}`, time: `${get("hour")}:${get("minute")}` };
}

/** One line of text quoted on a timeline line: newlines folded, long text cut with "…". */
export function quoteForTimeline(text: string, maxChars: number = MAX_QUOTE_CHARS): string {
  const flat = text.replace(/\s*\n\s*/g, " ⏎ ").trim();
  return flat.length > maxChars ? `${flat.slice(0, maxChars)}…` : flat;
}

/**
 * Appends "- HH:MM <line>" to `timeline/YYYY-MM-DD.md` in the tenant's workspace, date and time in
 * the tenant's zone (a new day's file starts with a heading). The path is checked to stay inside
 * the workspace. A failure to write is logged, never thrown: the timeline must not stop a message.
 */
export async function appendTimeline(
  ctx: Pick<AppContext, "config" | "log" | "clock">,
  tenant: TimelineTenant,
  line: string,
  atMs: number = ctx.clock.now(),
): Promise<void> {
  try {
    const { date, time } = localDateTime(atMs, tenant.timezone);
    const path = resolveInWorkspace(ctx.config, tenant.id, `timeline/${date}.md`);
    await mkdir(dirname(path), { recursive: true });
    const isNew = await stat(path).then(
      () => false,
      () => true, // ENOENT: the day's first line
    );
    const heading = isNew ? `# ${date} (${tenant.timezone})\n\n` : "";
    await appendFile(path, `${heading}- ${time} ${line.replace(/\n/g, " ")}\n`, { mode: 0o640 });
  } catch (err) {
    ctx.log.warn("timeline line not written", { tenantId: tenant.id, error: err });
  }
}
