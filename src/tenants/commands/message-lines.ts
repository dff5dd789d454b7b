import type { MessageRow } from "../../db/index.ts";

/** Body on one line, cut to `max` characters. */
export function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** "2026-11-26T08:00:00.000Z  in   telegram  done     [who]  body" */
export function formatMessage(m: MessageRow, who?: string): string {
  const error = m.error ? `  (error: ${oneLine(m.error, 80)})` : "";
  const media = m.media ? " [media]" : "";
  const from = who ? `${who}  ` : "";
  return `${m.created_at}  ${m.direction.padEnd(3)}  ${m.channel.padEnd(8)}  ${m.status.padEnd(10)}  ${from}${oneLine(m.body)}${media}${error}`;
}
