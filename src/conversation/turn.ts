import type { AgentRunner, PromptItem, RetriedAgentResult, RunAccess } from "../agent/index.ts";
import { formatPrompt, runWithSessionRetry } from "../agent/index.ts";
import type { Channel, ChannelName } from "../channels/types.ts";
import type { AppContext } from "../context.ts";
import { tenantEnvironment } from "../credentials/index.ts";
import type { MessageRow } from "../db/index.ts";
import { AppError, errorMessage } from "../errors.ts";
import type { Tenant } from "../tenants/index.ts";
import {
  ensureClaudeMdCurrent,
  getTenant,
  servingRefusal,
  statWorkspaceEntry,
  tenantUid,
  workspacePath,
} from "../tenants/index.ts";
import type { UsageTotals } from "../usage/index.ts";
import { recordAgentFailure, recordAgentSuccess } from "./agent-health.ts";
import { budgetReachedReply, refuseOverBudget } from "./budget-gate.ts";
import { RUN_FAILED_REPLY } from "./chat-commands.ts";
import type { ClaimedBatch } from "./dispatcher.ts";
import { downloadPendingMedia, isPendingMedia, parseStoredMedia } from "./inbound-media.ts";
import { writeOwedInboundLines } from "./inbound-timeline.ts";
import type { OutboundReply } from "./outbox.ts";
import { finishClaimed, repliesTo, stillClaimed } from "./queue-store.ts";
import { saveSessionId } from "./session-store.ts";
import { appendTimeline, quoteForTimeline } from "./timeline.ts";

/** The MCP tools as the engine uses them: a per-run token and the endpoint. */
export interface AgentToolsAccess {
  issueToken(tenantId: string, runId: string): IssuedToken;
  /** The endpoint's URL under the server's base URL. */
  url(baseUrl: string): string;
}

/** The model gateway as the engine uses it (MODEL_GATEWAY=on): a per-run token and the gateway's URL. */
export interface ModelGatewayAccess {
  issueToken(tenantId: string, runId: string): IssuedToken;
  /** The gateway's URL under the server's base URL (the agent's ANTHROPIC_BASE_URL). */
  url(baseUrl: string): string;
  /** The run's model tokens and cost, once its last answer is recorded. */
  runUsage?(tenantId: string, runId: string): Promise<RunUsage>;
}

/** A run's model usage as the log and timeline show it (`serverErrors`: 5xx answers, or 502 when the API was unreachable). */
export type RunUsage = Omit<UsageTotals, "runs">;

/** A per-run token as the engine holds it (see IssuedRunToken). */
export interface IssuedToken {
  token: string;
  revoke(): void;
  /** Binds it to a later run of the same warm agent process. */
  renew?(runId: string): void;
}

export interface TurnDeps {
  runner: AgentRunner;
  outbox: { enqueue(reply: OutboundReply): Promise<string[]> };
  channels: ReadonlyMap<ChannelName, Channel>;
  tools?: AgentToolsAccess;
  /** The model gateway; without it (MODEL_GATEWAY=off) the agent holds the platform's login. */
  model?: ModelGatewayAccess;
  /** The server's base URL as the agent reaches it (for the MCP endpoint and the model gateway). */
  selfUrl(): string;
  /** Credential keys used only by server-side tools: never put in the agent's environment. */
  withholdFromAgent?: readonly string[];
}

/** How often "typing…" is renewed (Telegram shows it for ~5 s). */
const TYPING_EVERY_MS = 4000;

/** Creates the dispatcher's runBatch: one agent run over a tenant's claimed messages, reply out, rows finished. */
export function createTurnRunner(ctx: AppContext, deps: TurnDeps): (batch: ClaimedBatch) => Promise<void> {
  const log = ctx.log.child({ component: "turn" });
  const checkClaudeMd = createClaudeMdCheck(ctx);
  // A tenant's uid never changes once given (ids are not reused), so it is read once per tenant.
  const uids = new Map<string, number>();
  const uidOf = async (tenantId: string): Promise<number> => {
    const known = uids.get(tenantId);
    if (known !== undefined) return known;
    const uid = await tenantUid(ctx.db, tenantId);
    uids.set(tenantId, uid);
    return uid;
  };
  const startTyping = createTypingIndicator();

  /** A crash after the reply was stored but before the rows were marked: mark them now, never run twice. */
  async function settleAnswered(batch: ClaimedBatch): Promise<MessageRow[]> {
    // Rows claimed for the first time (attempts counts claims) had no run yet, so nothing can have answered them.
    if (batch.messages.every((m) => m.attempts <= 1)) return batch.messages;
    const replies = await repliesTo(ctx.db, batch.tenantId, batch.messages);
    if (replies.length === 0) return batch.messages;
    const lastAnswered = Math.max(...replies.map((r) => batch.messages.findIndex((m) => m.id === r.replyTo)));
    const answered = batch.messages.slice(0, lastAnswered + 1);
    const failedBefore = replies.some((r) => r.kind === "system");
    const outcome = failedBefore
      ? { status: "failed" as const, error: "agent run failed (recorded before a restart)" }
      : { status: "done" as const };
    await finishClaimed(
      ctx.db,
      answered.map((m) => m.id),
      batch.owner,
      outcome,
      ctx.clock.now(),
    );
    log.info("run already answered before a restart; not run again", {
      tenantId: batch.tenantId,
      count: answered.length,
    });
    return batch.messages.slice(lastAnswered + 1);
  }

  /** Timeline lines of messages another instance stored (it has no workspace here); a failure never stops the turn. */
  async function writeOwedLines(tenant: Tenant, rows: MessageRow[]): Promise<void> {
    try {
      await writeOwedInboundLines(ctx, tenant, rows);
    } catch (err) {
      log.warn("timeline lines of messages stored elsewhere not written", { tenantId: tenant.id, error: err });
    }
  }

  return async function runBatch(batch: ClaimedBatch): Promise<void> {
    const rows = await settleAnswered(batch);
    if (rows.length === 0) return;
    const ids = rows.map((m) => m.id);
    const tenant = await getTenant(ctx.db, batch.tenantId);
    if (tenant) await writeOwedLines(tenant, rows);
    const refusal = servingRefusal(tenant);
    if (!tenant || refusal) {
      deps.runner.retire?.(batch.tenantId, "tenant_stopped"); // a paused or archived tenant keeps no warm process
      const error = refusal ?? "tenant_not_found";
      await finishClaimed(ctx.db, ids, batch.owner, { status: "failed", error }, ctx.clock.now());
      log.warn("queued messages not run", { tenantId: batch.tenantId, error, count: ids.length });
      return;
    }
    const target = replyTarget(rows);
    if (await refuseOverBudget(ctx, deps.outbox, batch, tenant, rows, target)) return;
    const runId = crypto.randomUUID();
    const runLog = log.child({ tenantId: tenant.id, runId });
    runLog.info("agent run started", { messages: ids.length, isResume: batch.sessionId !== null });
    const stopTyping = startTyping(target ? deps.channels.get(target.channel) : undefined, target?.chatId);
    const usageOf = () => runUsageFields(deps.model, tenant.id, runId);
    let result: RetriedAgentResult;
    try {
      result = await runAgent(tenant, rows, batch, runId, usageOf);
    } finally {
      stopTyping();
    }
    const usage = await usageOf();
    ctx.metrics.agentRuns.inc({ result: result.kind });
    ctx.metrics.agentRunSeconds.observe({ result: result.kind }, result.durationMs / 1000);

    // Lost the lease: the agent was killed, and another process may be running these messages already.
    // Nothing of this run is kept (no reply, no session id, rows left for the lease's next holder).
    if (batch.signal.aborted) {
      runLog.warn("run stopped: the lease was lost; its outcome is dropped", {
        kind: result.kind,
        durationMs: result.durationMs,
      });
      return;
    }
    if ((await stillClaimed(ctx.db, ids, batch.owner)).length === 0) {
      runLog.warn("run result dropped: the messages were taken over (lease freed or reset meanwhile)", {
        kind: result.kind,
      });
      return;
    }
    const lastId = ids[ids.length - 1]!;
    const isTasksOnly = rows.every((m) => m.kind === "task");
    if (result.kind === "ok") {
      const isSessionSaved = await saveSessionId(
        ctx.db,
        tenant.id,
        batch.owner,
        result.sessionId,
        ctx.clock.now(),
        batch.resetMark,
        runId,
      );
      await recordAgentSuccess(ctx.db, ctx.clock.now());
      const text = result.text.trim();
      if (text !== "" && target) {
        await deps.outbox.enqueue({
          tenantId: tenant.id,
          channel: target.channel,
          chatId: target.chatId,
          text,
          replyTo: lastId,
          kind: isTasksOnly ? "task" : "chat",
        });
      }
      await finishClaimed(ctx.db, ids, batch.owner, { status: "done" }, ctx.clock.now());
      runLog.info("agent run ok", {
        durationMs: result.durationMs,
        replyChars: text.length,
        sessionReset: result.sessionReset,
        isSessionSaved,
        ...usage,
      });
      await appendTimeline(
        ctx,
        tenant,
        (text === ""
          ? "→ (the agent finished without a reply)"
          : target
            ? `→ reply: ${quoteForTimeline(text)}`
            : `→ reply not sent (no linked chat): ${quoteForTimeline(text)}`) + usageNote(usage),
      );
      return;
    }
    // A run that timed out or crashed while the model API failed: say so (the CLI retries 5xx until its time is up).
    const apiNote =
      usage && usage.modelServerErrors > 0
        ? ` (the model API failed ${usage.modelServerErrors} of ${usage.modelRequests} requests of this run: unreachable or 5xx)`
        : "";
    const error = `${result.kind}: ${result.error}${apiNote}`;
    runLog.error("agent run failed", {
      kind: result.kind,
      error: result.error + apiNote,
      durationMs: result.durationMs,
      exitCode: result.exitCode,
      ...usage,
    });
    await recordAgentFailure(
      ctx.db,
      {
        kind: result.kind,
        at: new Date(ctx.clock.now()).toISOString(),
        tenant_id: tenant.id,
        error: (result.error + apiNote).slice(0, 500),
      },
      ctx.clock.now(),
    );
    // A failed scheduled task is retried by the scheduler; only a customer waiting for an answer is told
    // (of a budget reached mid-run, once a month like a run refused before start).
    const failureReply =
      result.kind === "budget_exceeded" && !isTasksOnly ? await budgetReachedReply(ctx, tenant) : RUN_FAILED_REPLY;
    if (!isTasksOnly && target && failureReply) {
      await deps.outbox.enqueue({
        tenantId: tenant.id,
        channel: target.channel,
        chatId: target.chatId,
        text: failureReply,
        replyTo: lastId,
        kind: "system",
      });
    }
    await finishClaimed(ctx.db, ids, batch.owner, { status: "failed", error: error.slice(0, 2000) }, ctx.clock.now());
    await appendTimeline(
      ctx,
      tenant,
      `✗ agent run failed (${result.kind}): ${quoteForTimeline(result.error + apiNote, 300)}${isTasksOnly ? "" : " — the customer was told"}${usageNote(usage)}`,
    );
  };

  /**
   * The run's tokens (MCP tools, model gateway), bound to this tenant and run. The runner decides how long they
   * live: a cold run's die with it (the retry of a stale session too), a warm process's live as long as the process
   * and are renewed for each turn (model usage is metered under the turn's run id).
   */
  function runAccess(tenantId: string): RunAccess | undefined {
    const { tools, model } = deps;
    if (!tools && !model) return undefined;
    return {
      issue(runId) {
        const toolToken = tools?.issueToken(tenantId, runId);
        const modelToken = model?.issueToken(tenantId, runId);
        return {
          ...(tools && toolToken ? { mcp: { url: tools.url(deps.selfUrl()), token: toolToken.token } } : {}),
          ...(model && modelToken ? { model: { url: model.url(deps.selfUrl()), token: modelToken.token } } : {}),
          renew(next) {
            toolToken?.renew?.(next);
            modelToken?.renew?.(next);
          },
          revoke() {
            toolToken?.revoke();
            modelToken?.revoke();
          },
        };
      },
    };
  }

  async function runAgent(
    tenant: Tenant,
    rows: MessageRow[],
    batch: ClaimedBatch,
    runId: string,
    usage: () => Promise<RunUsageFields | null>,
  ): Promise<RetriedAgentResult> {
    const access = runAccess(tenant.id);
    // A runner that does not hand out tokens itself (a test's stand-in) gets this run's, dead once the run ends.
    const grant = deps.runner.issuesTokens ? undefined : access?.issue(runId);
    try {
      // An unsafe CLAUDE.md or .env (a FIFO, a link, too large) throws here: the run fails, the operator reads why.
      await checkClaudeMd(tenant); // a change made straight in the database (runbook SQL) reaches the agent now
      const env = await tenantEnvironment(ctx, tenant);
      for (const key of deps.withholdFromAgent ?? []) delete env[key];
      return await runWithSessionRetry(deps.runner, {
        tenantId: tenant.id,
        workspace: workspacePath(ctx.config, tenant.id),
        uid: await uidOf(tenant.id),
        // Media the pipeline only referenced is downloaded now, before the run (the webhook did not wait for it).
        prompt: formatPrompt(
          (await downloadPendingMedia(ctx, tenant, rows, deps.channels)).map(toPromptItem),
          tenant.timezone,
        ),
        sessionId: batch.sessionId,
        tenantEnv: env,
        timezone: tenant.timezone,
        signal: batch.signal,
        runId,
        ...(batch.turnMark !== undefined ? { turnMark: batch.turnMark } : {}),
        ...(deps.runner.issuesTokens && access ? { access } : {}),
        ...(grant?.mcp ? { mcp: grant.mcp } : {}),
        ...(grant?.model ? { model: grant.model } : {}),
        usage,
      });
    } catch (err) {
      // A bug, an unreadable vault or an unsafe workspace file: a failed run like any other, so the customer is told.
      const error = err instanceof AppError ? `${err.code}: ${err.message}` : errorMessage(err);
      return {
        kind: "crash",
        error: `could not run the agent: ${error}`,
        durationMs: 0,
        exitCode: null,
        sessionReset: false,
      };
    } finally {
      grant?.revoke();
    }
  }
}

/** A run's usage as log fields (null: no gateway, nothing metered). */
type RunUsageFields = {
  inputTokens: number;
  outputTokens: number;
  cacheTokens: number;
  costUsd: number;
  modelRequests: number;
  modelServerErrors: number;
};

async function runUsageFields(
  model: ModelGatewayAccess | undefined,
  tenantId: string,
  runId: string,
): Promise<RunUsageFields | null> {
  if (!model?.runUsage) return null;
  try {
    const u = await model.runUsage(tenantId, runId);
    return {
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cacheTokens: u.cacheCreationInputTokens + u.cacheReadInputTokens,
      costUsd: Math.round(u.costUsd * 1_000_000) / 1_000_000,
      modelRequests: u.requests,
      modelServerErrors: u.serverErrors,
    };
  } catch {
    return null; // the usage read failed: the run's outcome matters more; admin usage still has the rows
  }
}

/** " (1234 in / 56 out tokens, $0.0123)" after a timeline line; "" without metering. */
function usageNote(usage: RunUsageFields | null): string {
  if (!usage) return "";
  const cache = usage.cacheTokens > 0 ? ` / ${usage.cacheTokens} cache` : "";
  return ` (${usage.inputTokens} in / ${usage.outputTokens} out${cache} tokens, $${usage.costUsd.toFixed(4)})`;
}

/** Where the reply goes: the chat of the newest message that has one. */
function replyTarget(rows: MessageRow[]): { channel: ChannelName; chatId: string } | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i]!;
    if (row.chat_id !== "") return { channel: row.channel, chatId: row.chat_id };
  }
  return null;
}

/** A stored message as the prompt shows it (media paths relative to the workspace; failed downloads named). */
export function toPromptItem(row: MessageRow): PromptItem {
  const media = parseStoredMedia(row.media);
  const missing = media.flatMap((m) =>
    "error" in m
      ? [
          `[The customer sent a ${m.kind}${m.fileName ? ` (${m.fileName})` : ""} that could not be downloaded: ${m.error}]`,
        ]
      : isPendingMedia(m)
        ? [`[The customer sent a ${m.kind} that could not be downloaded: not fetched]`]
        : [],
  );
  return {
    kind: row.kind === "task" ? "task" : "chat",
    ...(row.sender ? { sender: row.sender } : {}),
    text: [row.body, ...missing].filter((s) => s !== "").join("\n"),
    receivedAtMs: Date.parse(row.created_at),
    media: media.flatMap((m) => ("path" in m ? [{ path: m.path, kind: m.kind }] : [])),
  };
}

/** Starts "typing…" in a chat; the returned stop() ends this caller's share of it (calling it again does nothing). */
export type StartTyping = (channel: Channel | undefined, chatId: string | undefined) => () => void;

/**
 * "typing…" per chat: shown in the next turn of the event loop (the run being started goes first: its turn is
 * written to the agent before the Bot API request is made) and renewed every `everyMs` (Telegram shows it ~5 s)
 * by one timer per chat, however many runs want it at once; the timer stops when the last of them stops.
 */
export function createTypingIndicator(everyMs = TYPING_EVERY_MS): StartTyping {
  const chats = new Map<
    string,
    { holders: number; timer: ReturnType<typeof setInterval>; first: ReturnType<typeof setImmediate> }
  >();
  return function startTyping(channel, chatId) {
    if (!channel?.showTyping || !chatId) return () => {};
    const key = `${channel.name}:${chatId}`;
    const show = () => void channel.showTyping?.(chatId).catch(() => {}); // cosmetic: a failed "typing…" loses nothing
    const entry = chats.get(key);
    if (entry) entry.holders++;
    else chats.set(key, { holders: 1, timer: setInterval(show, everyMs), first: setImmediate(show) });
    let isStopped = false;
    return function stopTyping() {
      if (isStopped) return;
      isStopped = true;
      const current = chats.get(key);
      if (!current || --current.holders > 0) return;
      clearInterval(current.timer);
      clearImmediate(current.first);
      chats.delete(key);
    };
  };
}

/** Brings a tenant's CLAUDE.md up to date before a run (see ensureClaudeMdCurrent); an unsafe file → UnsafeWorkspaceFileError. */
export type ClaudeMdCheck = (tenant: Tenant) => Promise<void>;

/**
 * ensureClaudeMdCurrent, skipped when neither the tenant's row nor the file has changed since the last
 * check that left them matching: the rendered text is a function of the two (the row and the notes kept
 * in the file), so an unchanged pair needs no read, render and compare. The file is judged by one lstat
 * (inode, size, mtime, ctime): an edit by the operator, the agent or another process shows there.
 */
export function createClaudeMdCheck(ctx: Pick<AppContext, "config" | "log">): ClaudeMdCheck {
  const matched = new Map<string, string>(); // tenant id → key of the last (row, file) pair found matching

  function keyOf(tenant: Tenant): string | null {
    let info: ReturnType<typeof statWorkspaceEntry>;
    try {
      info = statWorkspaceEntry(ctx.config, tenant.id, "CLAUDE.md");
    } catch {
      return null; // the full check below reads the file safely and says what is wrong
    }
    if (!info?.isFile() || info.nlink !== 1) return null; // missing or not a plain regular file: always the full check
    return `${JSON.stringify(tenant)}\n${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
  }

  return async function checkClaudeMd(tenant: Tenant): Promise<void> {
    const before = keyOf(tenant);
    if (before !== null && matched.get(tenant.id) === before) return;
    const outcome = await ensureClaudeMdCurrent(ctx, tenant);
    // Unchanged: the file read after `before` was taken matched, so `before` is a safe key (a change in
    // between alters the file's stat and forces the next check). Written: our own write's stat.
    const key = outcome === "unchanged" ? before : outcome === "written" ? keyOf(tenant) : null;
    if (key === null) matched.delete(tenant.id);
    else matched.set(tenant.id, key);
  };
}
