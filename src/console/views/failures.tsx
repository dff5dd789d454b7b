/** @jsxImportSource hono/jsx */
import type { Failures } from "../failures-data.ts";
import { clip, relativeTime } from "./format.ts";
import type { PageContext } from "./layout.tsx";
import { Badge, Layout } from "./layout.tsx";

export function FailuresView(props: { page: PageContext; failures: Failures; nowMs: number }) {
  const { runs, replies, tasks } = props.failures;
  const tenantLink = (id: string, name: string, anchor: string) => (
    <a href={`/console/tenants/${id}#${anchor}`}>{name}</a>
  );
  return (
    <Layout title="Failures" page={props.page}>
      <section class="card" id="runs">
        <h1>Failed agent runs</h1>
        {runs.length === 0 ? (
          <p class="muted">No failed runs. Customer messages the agent could not answer would show here.</p>
        ) : (
          <table>
            <tbody>
              {runs.map((r) => (
                <tr>
                  <td title={r.at}>{relativeTime(r.at, props.nowMs)}</td>
                  <td>{tenantLink(r.tenantId, r.tenantName, "conversation")}</td>
                  <td>
                    <Badge tone="bad">{r.kind}</Badge>
                  </td>
                  <td class="small">{clip(r.error, 300)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card" id="replies">
        <h2>Failed replies</h2>
        {replies.length === 0 ? (
          <p class="muted">No failed replies. Replies a channel refused or could not deliver would show here.</p>
        ) : (
          <table>
            <tbody>
              {replies.map((r) => (
                <tr>
                  <td title={r.at}>{relativeTime(r.at, props.nowMs)}</td>
                  <td>{tenantLink(r.tenantId, r.tenantName, "conversation")}</td>
                  <td>{r.channel}</td>
                  <td class="small">
                    {clip(r.error, 300)}
                    {r.errorCode ? ` (code ${r.errorCode})` : ""}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card" id="tasks">
        <h2>Failed tasks</h2>
        {tasks.length === 0 ? (
          <p class="muted">No failed tasks. Scheduled tasks that failed after their retries would show here.</p>
        ) : (
          <table>
            <tbody>
              {tasks.map((r) => (
                <tr>
                  <td title={r.at}>{relativeTime(r.at, props.nowMs)}</td>
                  <td>{tenantLink(r.tenantId, r.tenantName, "tasks")}</td>
                  <td>{clip(r.prompt, 100)}</td>
                  <td class="small">{clip(r.error, 300)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </Layout>
  );
}
