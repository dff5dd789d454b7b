/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import { Hono } from "hono";
import { getConnInfo } from "hono/bun";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { AppContext } from "../context.ts";
import { parseMessageCursor, resetSession } from "../conversation/index.ts";
import { credentialKeySchema, credentialValueSchema, deleteCredential, setCredentials } from "../credentials/index.ts";
import { isDatabaseBusy } from "../db/index.ts";
import { AppError, describeZodError, NotFoundError, ValidationError } from "../errors.ts";
import { isAdminKey } from "../http/admin-key.ts";
import type { HealthRegistry } from "../http/health.ts";
import { telegramBotUsername } from "../ops/runbook.ts";
import { validateTenant } from "../ops/validation.ts";
import { cancelTask, updateTask } from "../scheduler/index.ts";
import type { Tenant } from "../tenants/index.ts";
import {
  archiveTenant,
  createLinkCode,
  isTenantId,
  linkCodeUrl,
  ONBOARDING_STATUSES,
  requireMutableTenant,
  requireTenant,
  updateTenant,
} from "../tenants/index.ts";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets.ts";
import { isCreditLow, monthOf } from "./budget.ts";
import { loadFailures } from "./failures-data.ts";
import { loadOverview, overviewQuerySchema } from "./overview-data.ts";
import type { ConsoleSession } from "./session.ts";
import { SessionKeeper, SignInLimiter } from "./session.ts";
import { loadTenantView } from "./tenant-data.ts";
import { loadUsage, usageCsv, usageQuerySchema } from "./usage-data.ts";
import { FailuresView } from "./views/failures.tsx";
import type { PageContext } from "./views/layout.tsx";
import { ConfirmPage, ErrorPage, SignInPage } from "./views/layout.tsx";
import { OverviewView } from "./views/overview.tsx";
import type { Notice } from "./views/tenant.tsx";
import { NOTICES, TenantPage } from "./views/tenant.tsx";
import { UsageView } from "./views/usage.tsx";

type Env = { Variables: { session: ConsoleSession; form: Record<string, string> } };

/**
 * Every page's security headers: a strict CSP (the stylesheet and script come from /console/assets, SVG charts
 * are inline markup, nothing else loads), no framing, and no caching of pages that carry tenants' data.
 */
const CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface ConsoleAppOptions {
  /** The registry /health reads (the overview's health strip shows the same fields). */
  health: HealthRegistry;
}

/** The operator console's Hono app (mounted at /console). */
export function createConsoleApp(ctx: AppContext, options: ConsoleAppOptions): Hono<Env> {
  const app = new Hono<Env>();
  const now = () => ctx.clock.now();
  const sessions = new SessionKeeper(ctx.config, now);
  const limiter = new SignInLimiter(now);
  const publicOrigin = ctx.config.PUBLIC_URL ? new URL(ctx.config.PUBLIC_URL).origin : null;
  // Behind a proxy the request URL is the proxy's hop (http://…): PUBLIC_URL's origin is the one browsers send.
  const originCheck = csrf({
    origin: (origin, c) => origin === new URL(c.req.url).origin || origin === publicOrigin,
  });

  app.use(async function securityHeaders(c, next) {
    await next();
    c.header("Content-Security-Policy", CSP);
    c.header("X-Frame-Options", "DENY");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("Cache-Control", "no-store");
  });
  app.onError((err, c) => renderError(c, err, ctx));

  app.get("/assets/console.css", (c) => c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8" }));
  app.get("/assets/console.js", (c) => c.body(CONSOLE_JS, 200, { "content-type": "text/javascript; charset=utf-8" }));

  app.get("/sign-in", async (c) => {
    if (await sessions.read(c)) return c.redirect("/console", 303);
    return html(c, <SignInPage />);
  });

  app.post("/sign-in", originCheck, async (c) => {
    const address = clientAddress(c);
    const waitMs = limiter.retryAfterMs(address);
    if (waitMs > 0) {
      c.header("Retry-After", String(Math.ceil(waitMs / 1000)));
      ctx.log.warn("console sign-in refused: too many failures", { address });
      const minutes = Math.ceil(waitMs / 60_000);
      return html(c, <SignInPage error={`Too many wrong keys. Try again in ${minutes} min.`} />, 429);
    }
    const form = z.object({ key: z.string().max(1024).catch("") }).parse(await c.req.parseBody());
    if (!isAdminKey(ctx.config.ADMIN_API_KEY, form.key)) {
      limiter.recordFailure(address);
      ctx.log.warn("console sign-in failed", { address });
      return html(c, <SignInPage error="That is not the admin key." />, 401);
    }
    await sessions.start(c);
    ctx.log.info("console sign-in", { address });
    return c.redirect("/console", 303);
  });

  // Everything below needs a session; POSTs also the session's CSRF token and a same-origin Origin.
  app.use(async function requireSession(c, next) {
    const session = await sessions.read(c);
    if (!session) return c.redirect("/console/sign-in", 303);
    c.set("session", session);
    await next();
  });
  app.on("POST", "*", originCheck, async function requireCsrfToken(c, next) {
    const body = await c.req.parseBody();
    const form: Record<string, string> = {};
    for (const [key, value] of Object.entries(body)) if (typeof value === "string") form[key] = value;
    if (!sessions.isValidCsrfToken(c.var.session, form._csrf)) {
      ctx.log.warn("console form refused: missing or wrong CSRF token", { path: c.req.path });
      throw new AppError(
        "csrf_token_invalid",
        "This form has expired or did not come from the console. Reload the page and try again.",
        403,
      );
    }
    c.set("form", form);
    await next();
  });

  app.post("/sign-out", (c) => {
    sessions.end(c, c.var.session);
    return c.redirect("/console/sign-in", 303);
  });

  app.get("/", async (c) => {
    const query = overviewQuerySchema.parse(c.req.query());
    const nowMs = now();
    const month = monthOf(nowMs);
    const health = (await options.health.collect(ctx.log)).fields;
    const creditLow = isCreditLow(health);
    const overview = await loadOverview(ctx.db, query, {
      nowMs,
      month,
      defaultBudgetUsd: ctx.config.tenantMonthlyBudgetUsd,
      isCreditLow: creditLow,
    });
    return html(
      c,
      <OverviewView
        page={pageOf(c)}
        health={health}
        isCreditLow={creditLow}
        overview={overview}
        query={query}
        month={month}
        nowMs={nowMs}
      />,
    );
  });

  app.get("/usage", async (c) => {
    const query = usageQuerySchema.parse(c.req.query());
    const report = await loadUsage(ctx.db, query.month ?? monthOf(now()), query.sort, query.dir);
    return html(c, <UsageView page={pageOf(c)} report={report} sort={query.sort} dir={query.dir} />);
  });

  app.get("/usage.csv", async (c) => {
    const query = usageQuerySchema.parse(c.req.query());
    const report = await loadUsage(ctx.db, query.month ?? monthOf(now()), "cost", "desc");
    return c.body(usageCsv(report), 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="proxystaff-usage-${report.month}.csv"`,
    });
  });

  app.get("/failures", async (c) => {
    return html(c, <FailuresView page={pageOf(c)} failures={await loadFailures(ctx.db)} nowMs={now()} />);
  });

  /** The tenant page, with whatever a finished action wants to show on it. */
  async function tenantPage(
    c: Context<Env>,
    tenant: Tenant,
    extra: Partial<Pick<Parameters<typeof TenantPage>[0], "linkCode" | "validation">> = {},
  ): Promise<Response> {
    const before = c.req.query("before");
    const cursor = before ? parseMessageCursor(before) : null;
    const notice = c.req.query("done");
    const view = await loadTenantView(ctx, tenant, {
      month: monthOf(now()),
      tenantBudgetUsd: tenant.monthly_budget_usd,
      ...(cursor ? { before: cursor } : {}),
    });
    return html(
      c,
      <TenantPage
        page={pageOf(c)}
        view={view}
        nowMs={now()}
        {...(notice && notice in NOTICES ? { notice: notice as Notice } : {})}
        {...extra}
      />,
    );
  }

  app.get("/tenants/:id", async (c) => tenantPage(c, await tenantOf(c)));

  const done = (c: Context<Env>, tenant: Tenant, notice: Notice, anchor = "") =>
    c.redirect(`/console/tenants/${tenant.id}?done=${notice}${anchor}`, 303);

  app.post("/tenants/:id/profile", async (c) => {
    const tenant = await tenantOf(c);
    const { business, ...form } = ProfileForm.parse(c.var.form);
    const patch = business === undefined ? undefined : businessPatch(tenant.business, business);
    await updateTenant(ctx, tenant.id, { ...form, ...(patch ? { business: patch } : {}) });
    logAction(ctx, "profile", tenant);
    return done(c, tenant, "profile");
  });

  app.post("/tenants/:id/pause", async (c) => {
    const tenant = await tenantOf(c);
    const asked = confirmFirst(c, tenant, {
      title: `Pause ${tenant.name}?`,
      question: "Customer messages will get a short paused reply and not be read; scheduled tasks wait.",
      button: "Pause",
    });
    if (asked) return asked;
    await updateTenant(ctx, tenant.id, { onboarding_status: "PAUSED" });
    logAction(ctx, "pause", tenant);
    return done(c, tenant, "paused");
  });

  app.post("/tenants/:id/resume", async (c) => {
    const tenant = await tenantOf(c);
    const { onboarding_status } = z
      .object({ onboarding_status: z.enum(ONBOARDING_STATUSES).exclude(["PAUSED"]) })
      .parse(c.var.form);
    await updateTenant(ctx, tenant.id, { onboarding_status });
    logAction(ctx, "resume", tenant);
    return done(c, tenant, "resumed");
  });

  app.post("/tenants/:id/archive", async (c) => {
    const tenant = await tenantOf(c);
    const asked = confirmFirst(c, tenant, {
      title: `Archive ${tenant.name}?`,
      question: "The tenant stops being served and becomes read-only. Its data stays until it is purged.",
      button: "Archive",
    });
    if (asked) return asked;
    await archiveTenant(ctx, tenant.id);
    logAction(ctx, "archive", tenant);
    return done(c, tenant, "archived");
  });

  app.post("/tenants/:id/link-code", async (c) => {
    const tenant = await tenantOf(c);
    const made = await createLinkCode(ctx.db, tenant.id, now());
    const botUsername = await telegramBotUsername(ctx.config);
    logAction(ctx, "link-code", tenant);
    return tenantPage(c, tenant, {
      linkCode: {
        code: made.code,
        url: botUsername ? linkCodeUrl(botUsername, made.code) : null,
        expiresAt: made.expires_at,
      },
    });
  });

  app.post("/tenants/:id/credentials", async (c) => {
    const tenant = await tenantOf(c);
    const form = z.object({ key: credentialKeySchema, value: credentialValueSchema }).parse(c.var.form);
    await requireMutableTenant(ctx.db, tenant.id);
    const keys = await setCredentials(ctx, tenant.id, { [form.key]: form.value });
    ctx.log.info("credentials stored", { tenantId: tenant.id, keys, via: "console" });
    return done(c, tenant, "credential_set", "#credentials");
  });

  app.post("/tenants/:id/credentials/delete", async (c) => {
    const tenant = await tenantOf(c);
    const { key } = z.object({ key: credentialKeySchema }).parse(c.var.form);
    const asked = confirmFirst(c, tenant, {
      title: `Delete ${key}?`,
      question: `The credential ${key} of ${tenant.name} is removed from the vault; tools that need it stop working.`,
      button: "Delete",
    });
    if (asked) return asked;
    if (!(await deleteCredential(ctx, tenant.id, key))) {
      throw new NotFoundError("credential_not_found", `${tenant.name} has no credential ${key}.`);
    }
    ctx.log.info("credential deleted", { tenantId: tenant.id, key, via: "console" });
    return done(c, tenant, "credential_deleted", "#credentials");
  });

  app.post("/tenants/:id/tasks/:taskId/:action{cancel|pause|resume}", async (c) => {
    const tenant = await tenantOf(c);
    const taskId = c.req.param("taskId");
    if (!isTenantId(taskId)) throw new NotFoundError("task_not_found", "No such task.");
    const action = c.req.param("action");
    if (action === "cancel") {
      const asked = confirmFirst(c, tenant, {
        title: "Cancel this task?",
        question: "It will not run again (it stays listed as cancelled).",
        button: "Cancel task",
      });
      if (asked) return asked;
      await cancelTask(ctx, taskId, { tenantId: tenant.id });
    } else {
      await updateTask(ctx, taskId, { paused: action === "pause" }, { tenantId: tenant.id });
    }
    ctx.log.info("task changed by operator", { tenantId: tenant.id, taskId, action, via: "console" });
    const notice: Notice = action === "cancel" ? "task_cancelled" : action === "pause" ? "task_paused" : "task_resumed";
    return done(c, tenant, notice, "#tasks");
  });

  app.post("/tenants/:id/validate", async (c) => {
    const tenant = await tenantOf(c);
    const validation = await validateTenant(ctx, tenant.id, { healthChecks: true });
    logAction(ctx, "validate", tenant);
    return tenantPage(c, tenant, { validation });
  });

  app.post("/tenants/:id/reset-session", async (c) => {
    const tenant = await tenantOf(c);
    const asked = confirmFirst(c, tenant, {
      title: `Reset ${tenant.name}'s session?`,
      question: "The agent forgets the conversation so far (its files stay) and the lease is freed.",
      button: "Reset session",
    });
    if (asked) return asked;
    await resetSession(ctx.db, tenant.id, now());
    logAction(ctx, "reset-session", tenant);
    return done(c, tenant, "session_reset", "#session");
  });

  app.all("*", () => {
    throw new NotFoundError("not_found", "There is no such page in the console.");
  });
  return app;

  async function tenantOf(c: Context<Env>): Promise<Tenant> {
    const id = c.req.param("id") ?? "";
    if (!isTenantId(id)) throw new NotFoundError("tenant_not_found", "There is no tenant with that id.");
    return requireTenant(ctx.db, id);
  }
}

const ProfileForm = z.object({
  name: z.string(),
  timezone: z.string(),
  onboarding_status: z.enum(ONBOARDING_STATUSES),
  /** The whole business profile as JSON (the form shows the stored one). */
  business: z.string().max(65_536).optional(),
});

/**
 * The business textarea holds the whole profile; updateTenant merges a patch into the stored one. So the patch
 * sets every field of the edited profile and removes (null) the fields the operator deleted; nothing when unchanged.
 */
function businessPatch(current: Tenant["business"], text: string): Record<string, unknown> | undefined {
  let edited: unknown;
  try {
    edited = JSON.parse(text.trim() === "" ? "{}" : text);
  } catch {
    throw new ValidationError('business: not valid JSON (an object such as {"industry": "bakery"}).');
  }
  if (typeof edited !== "object" || edited === null || Array.isArray(edited)) {
    throw new ValidationError('business: must be a JSON object such as {"industry": "bakery"}.');
  }
  if (JSON.stringify(edited) === JSON.stringify(current)) return undefined;
  const removed = Object.keys(current).filter((key) => !(key in edited));
  return { ...(edited as Record<string, unknown>), ...Object.fromEntries(removed.map((key) => [key, null])) };
}

/** When a destructive form arrives without its ticked checkbox: the confirmation page, else null (go ahead). */
function confirmFirst(
  c: Context<Env>,
  tenant: Tenant,
  text: { title: string; question: string; button: string },
): Response | Promise<Response> | null {
  const { _csrf: _token, confirm, ...fields } = c.var.form;
  if (confirm === "yes") return null;
  return html(
    c,
    <ConfirmPage
      page={pageOf(c)}
      {...text}
      action={`/console${c.req.path.replace(/^\/console/, "")}`}
      fields={fields}
      cancelHref={`/console/tenants/${tenant.id}`}
    />,
  );
}

function logAction(ctx: AppContext, action: string, tenant: Tenant): void {
  ctx.log.info("console action", { action, tenantId: tenant.id });
}

function pageOf(c: Context<Env>): PageContext {
  return { csrfToken: c.var.session.csrfToken };
}

async function html(c: Context, page: JSX.Element, status: ContentfulStatusCode = 200): Promise<Response> {
  return c.html(`<!DOCTYPE html>${await page.toString()}`, status);
}

/** The connection's address (not X-Forwarded-For, which a client could rotate to dodge the sign-in limit). */
function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // no Bun server behind this request (in-process tests): one shared bucket
  }
}

async function renderError(c: Context<Env>, err: Error, ctx: AppContext): Promise<Response> {
  const session = c.get("session") as ConsoleSession | undefined;
  const page = session ? { csrfToken: session.csrfToken } : undefined;
  let status: ContentfulStatusCode = 500;
  let code = "internal_error";
  let message = "Something went wrong on our side; it has been logged.";
  if (err instanceof AppError) [status, code, message] = [err.status, err.code, err.message];
  else if (err instanceof z.ZodError) [status, code, message] = [400, "invalid_input", describeZodError(err)];
  else if (isDatabaseBusy(err)) [status, code, message] = [503, "database_busy", "The database is busy; try again."];
  else if (err instanceof HTTPException && err.status === 403)
    [status, code, message] = [403, "forbidden_origin", "This form did not come from the console's own address."];
  else if (err instanceof HTTPException)
    [status, code, message] = [err.status as ContentfulStatusCode, "bad_request", err.message];
  else ctx.log.error("console error", { method: c.req.method, path: c.req.path, error: err, stack: err.stack });
  return html(c, <ErrorPage status={status} code={code} message={message} {...(page ? { page } : {})} />, status);
}
