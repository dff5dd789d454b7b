import { zonedFormat } from "../clock.ts";

/** One item of a run: a customer's chat message or a scheduled task that came due. */
export interface PromptItem {
  kind: "chat" | "task";
  /** Who wrote it (display name or phone); absent for tasks or unknown senders. */
  sender?: string;
  text: string;
  /** When it arrived (chat) or came due (task), epoch ms. */
  receivedAtMs: number;
  /** Files the customer sent, saved in the workspace (`inbox/…`). */
  media: { path: string; kind: string }[];
}

/**
 * Formats the items of one run, oldest first, into the CLI prompt: each with its sender, local time in the
 * tenant's zone and the paths of any media; a scheduled task is marked as such so the agent does not answer
 * it as if the customer had just written.
 */
export function formatPrompt(items: PromptItem[], timezone: string): string {
  const zone = safeZone(timezone);
  const blocks = items.map((item) => (item.kind === "task" ? formatTask(item, zone) : formatChat(item, zone)));
  const chats = items.filter((i) => i.kind === "chat").length;
  if (items.length > 1) {
    const intro =
      chats === items.length
        ? `${items.length} new messages from the customer arrived while you were busy (oldest first). Answer them together in one reply.`
        : `${items.length} new items (oldest first). Handle each; your reply goes to the customer's chat.`;
    return [intro, ...blocks].join("\n\n");
  }
  return blocks.join("\n\n");
}

function formatChat(item: PromptItem, zone: string): string {
  const from = item.sender?.trim() ? `from ${oneLine(item.sender)}` : "from the customer";
  const lines = [`[Message ${from}, ${localTime(item.receivedAtMs, zone)}]`];
  if (item.text.trim() !== "") lines.push(item.text);
  for (const media of item.media) lines.push(`[Attached ${oneLine(media.kind)}: ${oneLine(media.path)}]`);
  if (item.text.trim() === "" && item.media.length === 0) lines.push("(empty message)");
  return lines.join("\n");
}

function formatTask(item: PromptItem, zone: string): string {
  return [
    `[Scheduled task, due ${localTime(item.receivedAtMs, zone)}]`,
    "This is a task you (or the operator) scheduled earlier, not a new message from the customer. Do it now; your reply is sent to the customer's chat.",
    item.text,
    ...item.media.map((m) => `[Attached ${oneLine(m.kind)}: ${oneLine(m.path)}]`),
  ].join("\n");
}

/** e.g. "Thu 26 Nov 2026, 09:14 GMT-7 (America/Denver)"; an unknown zone is shown in UTC. */
export function localTime(ms: number, timezone: string): string {
  const zone = safeZone(timezone);
  const parts = zonedFormat("prompt", "en-GB", zone, PROMPT_TIME_OPTIONS).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("weekday")} ${get("day")} ${get("month")} ${get("year")}, ${get("hour")}:${get("minute")} ${get("timeZoneName")} (${zone})`;
}

const PROMPT_TIME_OPTIONS: Intl.DateTimeFormatOptions = {
  weekday: "short",
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
  timeZoneName: "shortOffset",
};
const resolvedZones = new Map<string, string>();

function safeZone(timezone: string): string {
  const known = resolvedZones.get(timezone);
  if (known !== undefined) return known;
  let zone: string;
  try {
    zone = new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    return "UTC"; // not cached: the map holds only real zones, so junk input cannot grow it
  }
  resolvedZones.set(timezone, zone);
  return zone;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ").trim();
}
