/** @jsxImportSource hono/jsx */
import type { MessageRow } from "../../db/index.ts";
import type { ValidationReport } from "../../ops/validation.ts";
import type { Task } from "../../scheduler/index.ts";
import type { TenantView } from "../tenant-data.ts";
import { BarChart, monthBars } from "./chart.tsx";
import { clip, percent, relativeTime, usd } from "./format.ts";
import type { PageContext } from "./layout.tsx";
import { Badge, CsrfField, Layout } from "./layout.tsx";
import { StageBadge } from "./overview.tsx";

/** What a finished action says at the top of the tenant page (?done=<code>): fixed texts, never echoed input. */
export const NOTICES = {
  profile: "Profile saved.",
  paused: "Paused: customer messages get the paused reply and tasks do not run.",
  resumed: "Resumed.",
  archived: "Archived: the tenant is read-only; its data stays until purged (CLI).",
  credential_set: "Credential stored (encrypted). Its value is not shown again.",
  credential_deleted: "Credential deleted.",
  task_cancelled: "Task cancelled.",
  task_paused: "Task paused.",
  task_resumed: "Task resumed.",
  session_reset: "Session reset: the next message starts a fresh agent session; the lease is free.",
} as const;
export type Notice = keyof typeof NOTICES;

const STAGES = ["DISCOVERY", "BUILDING", "LIVE", "PAUSED"] as const;

export function TenantPage(props: {
  page: PageContext;
  view: TenantView;
  nowMs: number;
  notice?: Notice;
  /** A link code made just now (shown only on this answer). */
  linkCode?: { code: string; url: string | null; expiresAt: string };
  validation?: ValidationReport;
}) {
  const { view, page } = props;
  const t = view.tenant;
  const base = `/console/tenants/${t.id}`;
  const isArchived = t.status === "ARCHIVED";
  return (
    <Layout title={t.name} page={page}>
      <section class="card">
        <p class="crumbs">
          <a href="/console">Overview</a> / {t.name}
        </p>
        <h1>
          {t.name} <StageBadge stage={t.onboarding_status} />{" "}
          {isArchived ? <Badge tone="muted">archived</Badge> : <Badge tone="ok">active</Badge>}{" "}
          <Badge tone="info">{t.channel}</Badge>
        </h1>
        <p class="muted">
          {t.phone_number} · {t.timezone} · id <code>{t.id}</code>
        </p>
        {props.notice ? (
          <p class="flash ok" role="status">
            {NOTICES[props.notice]}
          </p>
        ) : null}
      </section>

      {props.validation ? <ValidationSection report={props.validation} /> : null}

      <div class="grid">
        <section class="card" id="profile">
          <h2>Profile and stage</h2>
          {isArchived ? (
            <p class="muted">Archived tenants are read-only.</p>
          ) : (
            <form method="post" action={`${base}/profile`}>
              <CsrfField page={page} />
              <label>
                Name <input name="name" value={t.name} required maxlength={200} />
              </label>
              <label>
                Time zone <input name="timezone" value={t.timezone} required />
              </label>
              <label>
                Stage
                <select name="onboarding_status">
                  {STAGES.map((s) => (
                    <option value={s} selected={s === t.onboarding_status}>
                      {s}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Business profile (JSON)
                <textarea name="business" rows={8} spellcheck={false}>
                  {JSON.stringify(t.business, null, 2)}
                </textarea>
              </label>
              <button type="submit">Save</button>
            </form>
          )}
        </section>

        <section class="card" id="status">
          <h2>Status</h2>
          {isArchived ? (
            <p>Archived. Its data stays until purged with the CLI (proxystaff purge-tenant).</p>
          ) : (
            <>
              {t.onboarding_status === "PAUSED" ? (
                <form method="post" action={`${base}/resume`}>
                  <CsrfField page={page} />
                  <p>Paused: customer messages get a short "paused" reply and are not read; tasks wait.</p>
                  <label>
                    Resume at stage
                    <select name="onboarding_status">
                      {STAGES.filter((s) => s !== "PAUSED").map((s) => (
                        <option value={s} selected={s === "LIVE"}>
                          {s}
                        </option>
                      ))}
                    </select>
                  </label>
                  <button type="submit">Resume</button>
                </form>
              ) : (
                <ConfirmedForm page={page} action={`${base}/pause`} what="pause" label="Pause" />
              )}
              <ConfirmedForm page={page} action={`${base}/archive`} what="archive" label="Archive" />
            </>
          )}
        </section>

        <section class="card" id="link">
          <h2>Link</h2>
          <LinkSection view={view} page={page} base={base} linkCode={props.linkCode} nowMs={props.nowMs} />
        </section>

        <section class="card" id="session">
          <h2>Session</h2>
          <dl>
            <dt>Agent session</dt>
            <dd>{view.session?.agent_session_id ? <code>{view.session.agent_session_id}</code> : "none yet"}</dd>
            <dt>Lease</dt>
            <dd>
              {view.isLeaseHeld
                ? `held by ${view.session?.lease_owner ?? "?"} until ${view.session?.lease_expires_at} (${relativeTime(view.session?.lease_expires_at ?? null, props.nowMs)})`
                : "free"}
            </dd>
          </dl>
          <ConfirmedForm page={page} action={`${base}/reset-session`} what="reset" label="Reset session" />
        </section>
      </div>

      <section class="card" id="checks">
        <h2>Validate and tool health</h2>
        <form method="post" action={`${base}/validate`}>
          <CsrfField page={page} />
          <p class="muted">Runs the setup checklist and every tool's health check; each line says how to fix it.</p>
          <button type="submit">Run validate</button>
        </form>
      </section>

      <section class="card" id="credentials">
        <h2>Credentials</h2>
        {view.credentials.length === 0 ? (
          <p class="muted">No credentials yet. Set the keys the business's tools need (e.g. SENDGRID_API_KEY).</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Key</th>
                <th>Value</th>
                <th>Updated</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {view.credentials.map((cred) => (
                <tr>
                  <td>
                    <code>{cred.key}</code>
                  </td>
                  <td class="muted">{cred.masked}</td>
                  <td>{relativeTime(cred.updated_at, props.nowMs)}</td>
                  <td>
                    {isArchived ? null : (
                      <form method="post" action={`${base}/credentials/delete`} class="inline">
                        <CsrfField page={page} />
                        <input type="hidden" name="key" value={cred.key} />
                        <label class="confirm">
                          <input type="checkbox" name="confirm" value="yes" /> confirm
                        </label>
                        <button type="submit" class="danger small">
                          Delete
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {isArchived ? null : (
          <form method="post" action={`${base}/credentials`} class="row" autocomplete="off">
            <CsrfField page={page} />
            <label>
              Key <input name="key" required pattern="[A-Z][A-Z0-9_]{0,63}" placeholder="SENDGRID_API_KEY" />
            </label>
            <label>
              Value <input name="value" type="password" required autocomplete="new-password" />
            </label>
            <button type="submit">Set or replace</button>
          </form>
        )}
      </section>

      <section class="card" id="tasks">
        <h2>Scheduled tasks</h2>
        <TasksTable tasks={view.tasks} page={page} base={base} nowMs={props.nowMs} />
      </section>

      <section class="card" id="usage">
        <h2>Usage {view.month}</h2>
        <p>
          Spend {usd(view.monthSpendUsd)}
          {view.budgetUsd !== null
            ? ` of ${usd(view.budgetUsd)} budget (${percent(view.monthSpendUsd, view.budgetUsd)})`
            : " (no budget set)"}{" "}
          · {view.usageByDay.reduce((n, d) => n + d.requests, 0)} model requests
        </p>
        {view.usageByDay.length === 0 ? (
          <p class="muted">No model requests this month.</p>
        ) : (
          <BarChart bars={monthBars(view.month, view.usageByDay)} caption={`Spend per day, ${view.month}`} />
        )}
      </section>

      <section class="card" id="conversation">
        <h2>Conversation</h2>
        <MessagesTable messages={view.messages} nowMs={props.nowMs} />
        <p class="pager">
          <a href={`${base}#conversation`}>Newest</a>
          {view.nextBefore ? (
            <a href={`${base}?before=${encodeURIComponent(view.nextBefore)}#conversation`}>Older →</a>
          ) : null}
        </p>
      </section>

      <section class="card" id="timeline">
        <h2>Timeline {view.timeline.date}</h2>
        {view.timeline.problem ? (
          <p class="flash bad">The timeline file could not be read: {view.timeline.problem}</p>
        ) : view.timeline.lines.length === 0 ? (
          <p class="muted">Nothing happened today yet (timeline/{view.timeline.date}.md in the workspace).</p>
        ) : (
          <ul class="timeline">
            {view.timeline.lines.map((line) => (
              <li>{clip(line.slice(2), 400)}</li>
            ))}
          </ul>
        )}
      </section>
    </Layout>
  );
}

function LinkSection(props: {
  view: TenantView;
  page: PageContext;
  base: string;
  nowMs: number;
  linkCode?: { code: string; url: string | null; expiresAt: string };
}) {
  const t = props.view.tenant;
  if (t.channel === "whatsapp") {
    return (
      <p>
        WhatsApp links itself: the first message from <strong>{t.phone_number}</strong> to the business number reaches
        this tenant.
      </p>
    );
  }
  if (t.telegram_chat_id !== null) {
    return (
      <p>
        <Badge tone="ok">linked</Badge> Telegram chat <code>{t.telegram_chat_id}</code>.
      </p>
    );
  }
  return (
    <>
      <p>
        <Badge tone="warn">unlinked</Badge> Nobody can talk to this agent yet.
      </p>
      {props.linkCode ? (
        <div class="flash ok">
          <p>One-time link (shown only now, valid until {props.linkCode.expiresAt}):</p>
          {props.linkCode.url ? (
            <p>
              <code class="copy">{props.linkCode.url}</code>
            </p>
          ) : null}
          <p>
            Or the customer sends <code>/start {props.linkCode.code}</code> to the bot.
          </p>
        </div>
      ) : props.view.linkCodeExpiresAt ? (
        <p class="muted">
          A link code is outstanding until {props.view.linkCodeExpiresAt} (the code itself is not stored).
        </p>
      ) : null}
      <form method="post" action={`${props.base}/link-code`}>
        <CsrfField page={props.page} />
        <button type="submit">Make a one-time link</button>
      </form>
      <p class="muted small">
        Or: the customer opens the bot, sends <code>/start {t.phone_number}</code> and taps "Share my phone number".
      </p>
    </>
  );
}

function TasksTable(props: { tasks: Task[]; page: PageContext; base: string; nowMs: number }) {
  if (props.tasks.length === 0) {
    return (
      <p class="muted">No scheduled tasks. The agent schedules them when the owner asks (or use the admin API).</p>
    );
  }
  return (
    <div class="scroll">
      <table>
        <thead>
          <tr>
            <th>Prompt</th>
            <th>Schedule</th>
            <th>Next run</th>
            <th>Status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {props.tasks.map((task) => {
            const isOpen = task.status === "PENDING" || task.status === "RUNNING";
            const action = `${props.base}/tasks/${task.id}`;
            return (
              <tr data-task={task.id}>
                <td>{clip(task.prompt, 120)}</td>
                <td>{task.cron ? `${task.cron} (${task.timezone})` : (task.run_at ?? "")}</td>
                <td>{task.paused ? "paused" : relativeTime(task.next_run_at, props.nowMs)}</td>
                <td>
                  <Badge tone={task.status === "FAILED" ? "bad" : task.status === "CANCELLED" ? "muted" : "ok"}>
                    {task.status.toLowerCase()}
                  </Badge>
                  {task.last_error ? <div class="small muted">{clip(task.last_error, 160)}</div> : null}
                </td>
                <td>
                  {isOpen ? (
                    <>
                      <form method="post" action={`${action}/${task.paused ? "resume" : "pause"}`} class="inline">
                        <CsrfField page={props.page} />
                        <button type="submit" class="small">
                          {task.paused ? "Resume" : "Pause"}
                        </button>
                      </form>
                      <form method="post" action={`${action}/cancel`} class="inline">
                        <CsrfField page={props.page} />
                        <label class="confirm">
                          <input type="checkbox" name="confirm" value="yes" /> confirm
                        </label>
                        <button type="submit" class="danger small">
                          Cancel
                        </button>
                      </form>
                    </>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function MessagesTable(props: { messages: MessageRow[]; nowMs: number }) {
  if (props.messages.length === 0) {
    return <p class="muted">No messages yet. Once the customer is linked, their messages and the replies show here.</p>;
  }
  return (
    <div class="scroll">
      <table class="messages">
        <thead>
          <tr>
            <th>When</th>
            <th>Dir</th>
            <th>Text</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {props.messages.map((m) => (
            <tr data-message={m.id}>
              <td title={m.created_at}>{relativeTime(m.created_at, props.nowMs)}</td>
              <td>
                {m.direction === "in" ? "←" : "→"} {m.kind === "chat" ? "" : m.kind}
              </td>
              <td class="body">{clip(m.body, 400)}</td>
              <td>
                <Badge tone={m.status === "failed" ? "bad" : m.status === "rejected" ? "warn" : "muted"}>
                  {m.status}
                </Badge>
                {m.delivery_status ? (
                  <Badge tone={m.delivery_status === "failed" || m.delivery_status === "undelivered" ? "bad" : "ok"}>
                    {m.delivery_status}
                  </Badge>
                ) : null}
                {m.error ? (
                  <div class="small muted">
                    {clip(m.error, 200)}
                    {m.error_code ? ` (code ${m.error_code})` : ""}
                  </div>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ValidationSection(props: { report: ValidationReport }) {
  const r = props.report;
  return (
    <section class="card" id="validation">
      <h2>
        Validation: {r.ok ? <Badge tone="ok">ok</Badge> : <Badge tone="bad">problems</Badge>}{" "}
        <span class="muted small">
          {r.counts.ok} ok · {r.counts.warn} warn · {r.counts.fail} fail
        </span>
      </h2>
      <table class="checks">
        <tbody>
          {r.checks.map((check) => (
            <tr data-check={check.status}>
              <td>
                <Badge tone={check.status === "ok" ? "ok" : check.status === "warn" ? "warn" : "bad"}>
                  {check.status}
                </Badge>
              </td>
              <td>{check.name}</td>
              <td>
                {check.detail}
                {check.fix ? <div class="fix">Fix: {check.fix}</div> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** A destructive action: a plain form post that needs its "Confirm …" box ticked (works without JavaScript). */
function ConfirmedForm(props: { page: PageContext; action: string; what: string; label: string }) {
  return (
    <form method="post" action={props.action}>
      <CsrfField page={props.page} />
      <label class="confirm">
        <input type="checkbox" name="confirm" value="yes" /> Confirm {props.what}
      </label>
      <button type="submit" class="danger">
        {props.label}
      </button>
    </form>
  );
}
