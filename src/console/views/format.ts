/** Small text formatters shared by the console's pages. */

/** "3 min ago", "2 h ago", "5 d ago"; "in 4 min" for the future; "—" for none. */
export function relativeTime(iso: string | null, nowMs: number): string {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const diffS = Math.round((nowMs - at) / 1000);
  const abs = Math.abs(diffS);
  const text =
    abs < 60
      ? `${abs} s`
      : abs < 3600
        ? `${Math.floor(abs / 60)} min`
        : abs < 86_400
          ? `${Math.floor(abs / 3600)} h`
          : `${Math.floor(abs / 86_400)} d`;
  return diffS >= 0 ? `${text} ago` : `in ${text}`;
}

export function usd(value: number): string {
  return `$${value.toFixed(value >= 100 ? 0 : 2)}`;
}

export function percent(part: number, whole: number | null): string {
  if (!whole || whole <= 0) return "";
  return `${Math.round((part / whole) * 100)} %`;
}

/** At most `max` characters, with an ellipsis. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A /health field's value as one short line. */
export function healthValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`)
      .join(" · ");
  }
  return String(value);
}
