/** @jsxImportSource hono/jsx */
import type { AttentionReason, OverviewPage, OverviewQuery, OverviewRow, OverviewSort } from "../overview-data.ts";
import { clip, healthValue, percent, relativeTime, usd } from "./format.ts";
import type { PageContext } from "./layout.tsx";
import { Badge, Layout } from "./layout.tsx";

/** The /health fields the strip shows first, with a label each; any other field follows under its own name. */
const STRIP: [field: string, label: string][] = [
  ["status", "Health"],
  ["channels", "Channels"],
  ["sandbox", "Sandbox"],
  ["agent_login", "Model login"],
  ["outbox_pending", "Outbox pending"],
  ["scheduler", "Scheduler"],
  ["queue", "Queue"],
  ["agent_runs_active", "Runs now"],
];
const HIDDEN = new Set(["version", "uptime_s", "last_agent_ok_at", "instances"]);

const ATTENTION_TEXT: Record<AttentionReason, string> = {
  failures: "failures",
  stuck: "stuck",
  unlinked: "unlinked",
  budget: "≥80 % budget",
  credit_low: "credit low",
};

export function OverviewView(props: {
  page: PageContext;
  health: Record<string, unknown>;
  isCreditLow: boolean;
  overview: OverviewPage;
  query: OverviewQuery;
  month: string;
  nowMs: number;
}) {
  const { overview, query } = props;
  const pages = Math.max(1, Math.ceil(overview.matching / overview.pageSize));
  return (
    <Layout title="Overview" page={props.page} refresh>
      <HealthStrip health={props.health} isCreditLow={props.isCreditLow} />
      <section class="card">
        <div class="toolbar">
          <h1>Tenants</h1>
          <form method="get" action="/console" class="search">
            <input type="search" name="q" value={query.q} placeholder="Name, phone or id" aria-label="Search" />
            <input type="hidden" name="sort" value={query.sort} />
            <input type="hidden" name="dir" value={query.dir} />
            <label class="check">
              <input type="checkbox" name="attention" value="1" checked={query.attention} /> Needs attention (
              {overview.attentionTotal})
            </label>
            <button type="submit">Filter</button>
          </form>
        </div>
        {overview.rows.length === 0 ? (
          <EmptyState overview={overview} query={query} />
        ) : (
          <div class="scroll">
            <table class="tenants">
              <thead>
                <tr>
                  <SortHeader query={query} sort="name" label="Name" />
                  <SortHeader query={query} sort="stage" label="Stage" />
                  <SortHeader query={query} sort="status" label="Status" />
                  <SortHeader query={query} sort="channel" label="Channel" />
                  <th>Linked</th>
                  <SortHeader query={query} sort="last_message" label="Last message" />
                  <SortHeader query={query} sort="queue" label="Queued / running" />
                  <SortHeader query={query} sort="failures" label="Failures 24 h" />
                  <SortHeader query={query} sort="spend" label={`Spend ${props.month}`} />
                  <th>Attention</th>
                </tr>
              </thead>
              <tbody>
                {overview.rows.map((row) => (
                  <TenantRow row={row} nowMs={props.nowMs} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p class="pager">
          {query.page > 1 ? <a href={overviewHref(query, { page: query.page - 1 })}>← Previous</a> : null}
          <span>
            Page {query.page} of {pages} · {overview.matching} tenant{overview.matching === 1 ? "" : "s"}
          </span>
          {query.page < pages ? <a href={overviewHref(query, { page: query.page + 1 })}>Next →</a> : null}
        </p>
      </section>
    </Layout>
  );
}

function HealthStrip(props: { health: Record<string, unknown>; isCreditLow: boolean }) {
  const known = STRIP.filter(([field]) => field in props.health);
  const other = Object.keys(props.health).filter((f) => !HIDDEN.has(f) && !STRIP.some(([k]) => k === f));
  return (
    <section class="strip" aria-label="Platform health">
      {known.map(([field, label]) => (
        <HealthItem label={label} value={props.health[field]} field={field} />
      ))}
      {other.map((field) => (
        <HealthItem label={field.replace(/_/g, " ")} value={props.health[field]} field={field} />
      ))}
      {Array.isArray(props.health.instances) ? <InstancesItem instances={props.health.instances} /> : null}
      <HealthItem
        label="Model credit"
        value={props.isCreditLow ? "credit_too_low: the model account has no credit" : "ok"}
        field="credit"
      />
    </section>
  );
}

/** Every instance sharing the database, up or down (an instance unseen for 60 s is down). */
function InstancesItem(props: { instances: unknown[] }) {
  const list = props.instances.filter(
    (i): i is { id: string; up: boolean } => typeof i === "object" && i !== null && "id" in i && "up" in i,
  );
  const down = list.filter((i) => !i.up);
  const text = list.map((i) => `${i.id} ${i.up ? "up" : "down"}`).join(" · ");
  return (
    <div class={`item ${down.length > 0 ? "bad" : "ok"}`} data-field="instances">
      <span class="label">Instances</span>
      <span class="value" title={text}>
        {clip(text || "—", 120)}
      </span>
    </div>
  );
}

function HealthItem(props: { label: string; value: unknown; field: string }) {
  const text = healthValue(props.value);
  const tone = /error|degraded|credit_too_low|missing|unavailable|unreadable|^off: /i.test(text)
    ? "bad"
    : /warn|off/i.test(text) || props.field.endsWith("_warning")
      ? "warn"
      : "ok";
  return (
    <div class={`item ${tone}`} data-field={props.field}>
      <span class="label">{props.label}</span>
      <span class="value" title={text}>
        {clip(text, 120)}
      </span>
    </div>
  );
}

function TenantRow(props: { row: OverviewRow; nowMs: number }) {
  const r = props.row;
  return (
    <tr data-tenant={r.id}>
      <td>
        <a href={`/console/tenants/${r.id}`}>{r.name}</a>
        <div class="muted small">{r.phoneNumber}</div>
      </td>
      <td>
        <StageBadge stage={r.stage} />
      </td>
      <td>{r.status === "ACTIVE" ? <Badge tone="ok">active</Badge> : <Badge tone="muted">archived</Badge>}</td>
      <td>{r.channel}</td>
      <td>{r.isLinked ? <Badge tone="ok">linked</Badge> : <Badge tone="warn">unlinked</Badge>}</td>
      <td title={r.lastMessageAt ?? ""}>{relativeTime(r.lastMessageAt, props.nowMs)}</td>
      <td>
        {r.queued} / {r.processing}
      </td>
      <td>{r.failures24h > 0 ? <Badge tone="bad">{r.failures24h}</Badge> : "0"}</td>
      <td>
        {usd(r.spendUsd)}
        {r.budgetUsd !== null ? (
          <span class="muted small">
            {" "}
            of {usd(r.budgetUsd)} ({percent(r.spendUsd, r.budgetUsd)})
          </span>
        ) : null}
      </td>
      <td>
        {r.attention.map((a) => (
          <Badge tone={a === "unlinked" || a === "budget" ? "warn" : "bad"}>{ATTENTION_TEXT[a]}</Badge>
        ))}
      </td>
    </tr>
  );
}

/** The lifecycle stage as a badge: LIVE green, PAUSED red, onboarding stages blue. */
export function StageBadge(props: { stage: OverviewRow["stage"] }) {
  const tone = props.stage === "LIVE" ? "ok" : props.stage === "PAUSED" ? "bad" : "info";
  return <Badge tone={tone}>{props.stage.toLowerCase()}</Badge>;
}

function SortHeader(props: { query: OverviewQuery; sort: OverviewSort; label: string }) {
  const isCurrent = props.query.sort === props.sort;
  const dir = isCurrent && props.query.dir === "asc" ? "desc" : "asc";
  const arrow = isCurrent ? (props.query.dir === "asc" ? " ▲" : " ▼") : "";
  return (
    <th aria-sort={isCurrent ? (props.query.dir === "asc" ? "ascending" : "descending") : undefined}>
      <a href={overviewHref(props.query, { sort: props.sort, dir, page: 1 })}>
        {props.label}
        {arrow}
      </a>
    </th>
  );
}

function EmptyState(props: { overview: OverviewPage; query: OverviewQuery }) {
  if (props.overview.total === 0 && !props.query.q && !props.query.attention) {
    return (
      <div class="empty">
        <h2>No tenants yet</h2>
        <p>Create the first business with the CLI or the admin API, then come back here:</p>
        <pre>proxystaff create-tenant --name "Alpine Bakery" --phone +18015551234 --channel telegram</pre>
        <pre>
          {`curl -X POST $PUBLIC_URL/admin/tenants -H "Authorization: Bearer $ADMIN_API_KEY" \\
  -H 'Content-Type: application/json' \\
  -d '{"name":"Alpine Bakery","phone":"+18015551234","channel":"telegram"}'`}
        </pre>
      </div>
    );
  }
  return (
    <div class="empty">
      <h2>{props.query.attention ? "Nobody needs attention" : "No tenant matches"}</h2>
      <p>
        {props.query.attention
          ? "No failures in the last 24 hours, no stuck queue, everyone linked and under 80 % of budget."
          : "Try part of the name, the phone number in +E.164 form, or the start of the tenant id."}{" "}
        <a href="/console">Show every tenant</a>
      </p>
    </div>
  );
}

/** The overview's URL with some of its query changed. */
export function overviewHref(query: OverviewQuery, change: Partial<OverviewQuery>): string {
  const next = { ...query, ...change };
  const params = new URLSearchParams();
  if (next.q) params.set("q", next.q);
  if (next.attention) params.set("attention", "1");
  if (next.sort !== "name") params.set("sort", next.sort);
  if (next.dir !== "asc") params.set("dir", next.dir);
  if (next.page > 1) params.set("page", String(next.page));
  const text = params.toString();
  return text ? `/console?${text}` : "/console";
}
