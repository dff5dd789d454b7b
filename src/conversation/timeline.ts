import { zonedFormat } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { isOwnedHere } from "../instances/index.ts";
import { appendWorkspaceFile, readWorkspaceFile } from "../tenants/index.ts";

/** The tenant fields the timeline needs. */
export interface TimelineTenant {
  id: string;
  timezone: string;
  /** The instance holding the workspace; another instance writes no timeline (it would make a stray folder here). */
  instance_id?: string | null;
}

/** Longest text a timeline line quotes from a message (the message row keeps the whole text). */
const MAX_QUOTE_CHARS = 300;

const TIMELINE_TIME_OPTIONS: Intl.DateTimeFormatOptions = {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
};

/** The tenant-local date ("2026-11-26") and time ("14:05") of an instant. */
export function localDateTime(atMs: number, timezone: string): { date: string; time: string } {
  const parts = zonedFormat("timeline", "en-CA", timezone, TIMELINE_TIME_OPTIONS).formatToParts(new Date(atMs));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "00";
  return { date: `${get("year")}-${get("month")}-${get("day")}`, time: `${get("hour")}:${get("minute")}` };
}

/** One line of text quoted on a timeline line: newlines folded, long text cut with "…". */
export function quoteForTimeline(text: string, maxChars: number = MAX_QUOTE_CHARS): string {
  const flat = text.replace(/\s*\n\s*/g, " ⏎ ").trim();
  return flat.length > maxChars ? `${flat.slice(0, maxChars)}…` : flat;
}

/** Per tenant: the write of its last line (lines are written one after another, in call order). */
const pendingWrites = new Map<string, Promise<void>>();

/**
 * Appends "- HH:MM <line>" to `timeline/YYYY-MM-DD.md` in the tenant's workspace, date and time in
 * the tenant's zone taken now (a new day's file starts with a heading). Lines of one tenant are
 * written in call order, so a caller may leave the promise alone (the webhook answers without
 * waiting for the file); awaiting it waits for this line. The file is appended through
 * appendWorkspaceFile: no symlink, FIFO or hard link the agent put in timeline/ is ever followed.
 * A failure to write is logged, never thrown: the timeline must not stop a message.
 */
export function appendTimeline(
  ctx: Pick<AppContext, "config" | "log" | "clock">,
  tenant: TimelineTenant,
  line: string,
  atMs: number = ctx.clock.now(),
): Promise<void> {
  return queueLine(ctx, tenant, line, atMs, false);
}

/**
 * appendTimeline for the webhook path: the line is written in a later turn of the event loop, so the work already
 * under way (the webhook's wake → its tenant's lease, claim and turn written to the agent) goes first.
 */
export function appendTimelineSoon(
  ctx: Pick<AppContext, "config" | "log" | "clock">,
  tenant: TimelineTenant,
  line: string,
): Promise<void> {
  return queueLine(ctx, tenant, line, ctx.clock.now(), true);
}

function queueLine(
  ctx: Pick<AppContext, "config" | "log" | "clock">,
  tenant: TimelineTenant,
  line: string,
  atMs: number,
  isDeferred: boolean,
): Promise<void> {
  if (
    tenant.instance_id !== undefined &&
    !isOwnedHere(ctx.config, { id: tenant.id, instance_id: tenant.instance_id })
  ) {
    ctx.log.debug("timeline line not written: the workspace is on another instance", { tenantId: tenant.id });
    return Promise.resolve();
  }
  let stamp: { date: string; time: string };
  try {
    stamp = localDateTime(atMs, tenant.timezone);
  } catch (err) {
    ctx.log.warn("timeline line not written", { tenantId: tenant.id, error: err });
    return Promise.resolve();
  }
  const previous = pendingWrites.get(tenant.id) ?? Promise.resolve();
  const written = (isDeferred ? previous.then(nextTurnOfLoop) : previous).then(() =>
    writeLine(ctx, tenant, stamp, line),
  );
  pendingWrites.set(tenant.id, written);
  void written.then(() => {
    if (pendingWrites.get(tenant.id) === written) pendingWrites.delete(tenant.id);
  });
  return written;
}

function nextTurnOfLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves once every timeline line asked for so far is written (tests, shutdown). */
export async function timelineWritten(): Promise<void> {
  while (pendingWrites.size > 0) await Promise.all(pendingWrites.values());
}

async function writeLine(
  ctx: Pick<AppContext, "config" | "log">,
  tenant: TimelineTenant,
  { date, time }: { date: string; time: string },
  line: string,
): Promise<void> {
  const text = `- ${time} ${line.replace(/\n/g, " ")}\n`;
  try {
    // Synchronous on purpose: a few non-blocking syscalls on a small file take µs, less than the
    // thread-pool round trips of async ones (the line is written after the webhook's answer is on its way).
    appendWorkspaceFile(
      ctx.config,
      tenant.id,
      `timeline/${date}.md`,
      (isNew) => (isNew ? `# ${date} (${tenant.timezone})\n\n${text}` : text),
      0o640,
    );
  } catch (err) {
    ctx.log.warn("timeline line not written", { tenantId: tenant.id, error: err });
  }
}

/** Largest timeline file readTimelineDay reads (a day's lines; the operator console shows its tail). */
const MAX_TIMELINE_READ_BYTES = 1024 * 1024;

/**
 * The lines of the tenant's timeline for its local day of `atMs`, newest first (at most `maxLines`), or a
 * short reason instead when the file cannot be read safely (a symlink the agent planted, too large).
 */
export function readTimelineDay(
  ctx: Pick<AppContext, "config">,
  tenant: TimelineTenant,
  atMs: number,
  maxLines = 50,
): { date: string; lines: string[]; problem?: string } {
  const { date } = localDateTime(atMs, tenant.timezone);
  try {
    const text = readWorkspaceFile(ctx.config, tenant.id, `timeline/${date}.md`, MAX_TIMELINE_READ_BYTES) ?? "";
    const lines = text.split("\n").filter((l) => l.startsWith("- "));
    return { date, lines: lines.slice(-maxLines).reverse() };
  } catch (err) {
    return { date, lines: [], problem: err instanceof Error ? err.message : String(err) };
  }
}
