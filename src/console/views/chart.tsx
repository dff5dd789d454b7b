/** @jsxImportSource hono/jsx */
import { usd } from "./format.ts";

/** One bar of a chart: its label (a day, a tenant) and value (USD). */
export interface Bar {
  label: string;
  value: number;
  href?: string;
}

/**
 * A bar chart as inline SVG (no script, no style attribute: the CSP allows neither inline). Each bar has a
 * <title> so hovering shows its value; the numbers are also in the table beside it, for screen readers.
 */
export function BarChart(props: { bars: Bar[]; caption: string; height?: number }) {
  const height = props.height ?? 160;
  const width = 640;
  const max = Math.max(...props.bars.map((b) => b.value), 0);
  const gap = 2;
  const barWidth = props.bars.length > 0 ? Math.max(2, (width - gap * props.bars.length) / props.bars.length) : 0;
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${width} ${height + 20}`}
        role="img"
        aria-label={props.caption}
        preserveAspectRatio="none"
        width="100%"
        height={height + 20}
      >
        <line x1="0" y1={height} x2={width} y2={height} stroke="#9aa4b2" stroke-width="1" />
        {props.bars.map((bar, i) => {
          const h = max > 0 ? Math.max(bar.value > 0 ? 1 : 0, (bar.value / max) * (height - 10)) : 0;
          const x = i * (barWidth + gap);
          return (
            <g>
              <rect
                x={x.toFixed(1)}
                y={(height - h).toFixed(1)}
                width={barWidth.toFixed(1)}
                height={h.toFixed(1)}
                fill="#3b6fd8"
              >
                <title>{`${bar.label}: ${usd(bar.value)}`}</title>
              </rect>
              {props.bars.length <= 31 ? (
                <text
                  x={(x + barWidth / 2).toFixed(1)}
                  y={height + 14}
                  font-size="9"
                  text-anchor="middle"
                  fill="#5b6573"
                >
                  {bar.label.slice(-2)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption>
        {props.caption} · highest {usd(max)}
      </figcaption>
    </figure>
  );
}

/** Every day of a month (YYYY-MM) with the value of the days that have one, 0 for the rest. */
export function monthBars(month: string, days: { day: string; costUsd: number }[]): Bar[] {
  const [year, mon] = month.split("-").map(Number) as [number, number];
  const count = new Date(Date.UTC(year, mon, 0)).getUTCDate();
  const byDay = new Map(days.map((d) => [d.day, d.costUsd]));
  return Array.from({ length: count }, (_, i) => {
    const day = `${month}-${String(i + 1).padStart(2, "0")}`;
    return { label: day, value: byDay.get(day) ?? 0 };
  });
}
