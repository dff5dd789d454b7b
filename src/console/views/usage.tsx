/** @jsxImportSource hono/jsx */
import type { UsageReport, UsageSort } from "../usage-data.ts";
import { BarChart } from "./chart.tsx";
import { usd } from "./format.ts";
import type { PageContext } from "./layout.tsx";
import { Layout } from "./layout.tsx";

const COLUMNS: [UsageSort, string][] = [
  ["name", "Tenant"],
  ["requests", "Requests"],
  ["runs", "Runs"],
  ["input", "Input tokens"],
  ["output", "Output tokens"],
  ["cost", "Cost"],
];

export function UsageView(props: { page: PageContext; report: UsageReport; sort: UsageSort; dir: "asc" | "desc" }) {
  const { report } = props;
  const top = [...report.rows].sort((a, b) => b.costUsd - a.costUsd).slice(0, 30);
  const href = (change: { month?: string; sort?: UsageSort; dir?: string }) =>
    `/console/usage?${new URLSearchParams({ month: report.month, sort: props.sort, dir: props.dir, ...change })}`;
  return (
    <Layout title="Usage" page={props.page}>
      <section class="card">
        <div class="toolbar">
          <h1>Model usage {report.month}</h1>
          <form method="get" action="/console/usage" class="search">
            <input type="month" name="month" value={report.month} aria-label="Month" />
            <button type="submit">Show</button>
            <a href={`/console/usage.csv?month=${report.month}`} download>
              Download CSV
            </a>
          </form>
        </div>
        <p>
          {usd(report.totals.costUsd)} across {report.rows.length} tenant{report.rows.length === 1 ? "" : "s"} ·{" "}
          {report.totals.requests} requests · {report.totals.inputTokens} input / {report.totals.outputTokens} output
          tokens
        </p>
        {report.rows.length === 0 ? (
          <div class="empty">
            <h2>No model usage in {report.month}</h2>
            <p>
              Usage is recorded for every model request through the gateway (MODEL_GATEWAY=on). Pick another month, or
              send a tenant's agent a message.
            </p>
          </div>
        ) : (
          <>
            <BarChart
              bars={top.map((r) => ({ label: r.tenantName, value: r.costUsd }))}
              caption={`Cost per tenant (top ${top.length})`}
            />
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    {COLUMNS.map(([key, label]) => (
                      <th>
                        <a href={href({ sort: key, dir: props.sort === key && props.dir === "desc" ? "asc" : "desc" })}>
                          {label}
                          {props.sort === key ? (props.dir === "asc" ? " ▲" : " ▼") : ""}
                        </a>
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {report.rows.map((r) => (
                    <tr>
                      <td>
                        <a href={`/console/tenants/${r.tenantId}#usage`}>{r.tenantName}</a>
                      </td>
                      <td>{r.requests}</td>
                      <td>{r.runs}</td>
                      <td>{r.inputTokens}</td>
                      <td>{r.outputTokens}</td>
                      <td>{usd(r.costUsd)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
    </Layout>
  );
}
