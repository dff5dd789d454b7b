import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../../context.ts";
import { ONBOARDING_STATUSES, TENANT_STATUSES } from "../../db/schema.ts";
import { assertOwnedHere } from "../../instances/index.ts";
import { telegramBotUsername } from "../../ops/runbook.ts";
import {
  archiveTenant,
  createLinkCode,
  createTenant,
  linkCodeStatus,
  linkCodeUrl,
  listTenants,
  newTenantSchema,
  phoneSchema,
  purgeTenant,
  requireTenant,
  setTelegramChat,
  tenantPatchSchema,
  unlinkTelegramChat,
  updateTenant,
} from "../../tenants/index.ts";
import type { AdminApi } from "./api.ts";
import { errorResponses, jsonBody, jsonResponse, TenantIdParams, TenantSchema } from "./api.ts";

/**
 * POST /tenants: newTenantSchema, strict (an unknown key is refused by name: a typo must not drop
 * data silently), with `phone_number` — the column name operators see in SQL — accepted for `phone`.
 */
const CreateTenantBody = newTenantSchema
  .extend({ phone: phoneSchema.optional(), phone_number: phoneSchema.optional() })
  .strict()
  .superRefine((body, issue) => {
    if (body.phone === undefined && body.phone_number === undefined) {
      issue.addIssue({
        code: "custom",
        path: ["phone"],
        message: "required (E.164, e.g. +18015551234; phone_number is accepted too)",
      });
    } else if (body.phone !== undefined && body.phone_number !== undefined && body.phone !== body.phone_number) {
      issue.addIssue({ code: "custom", path: ["phone_number"], message: "differs from phone: give one of them" });
    }
  });

const ListQuery = z.object({
  status: z.enum(TENANT_STATUSES).optional(),
  onboarding_status: z.enum(ONBOARDING_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ description: "Page size (1-500, default 50)" }),
  offset: z.coerce.number().int().min(0).default(0).openapi({ description: "Rows to skip (default 0)" }),
});

const TenantPage = z
  .object({
    tenants: z.array(TenantSchema),
    total: z.number().int(),
    limit: z.number().int(),
    offset: z.number().int(),
  })
  .openapi("TenantPage");

const DeleteQuery = z.object({
  purge: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: "true: after archiving, also delete the tenant's folder and every row of its data" }),
});

const DeleteResult = z
  .object({
    tenant: TenantSchema,
    purged: z.boolean(),
    removed: z.array(z.string()).openapi({ description: "What a purge removed (folder, rows per table)" }),
  })
  .openapi("TenantDeleteResult");

/** GET/POST /tenants, GET/PATCH/DELETE /tenants/:id. */
export function registerTenantRoutes(api: AdminApi, ctx: AppContext): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/tenants",
      tags: ["tenants"],
      summary: "List tenants (filter by status / onboarding_status; paginated, newest first)",
      request: { query: ListQuery },
      responses: { 200: jsonResponse(TenantPage, "A page of tenants"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const page = await listTenants(ctx.db, query);
      return c.json({ tenants: page.tenants, total: page.total, limit: query.limit, offset: query.offset }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/tenants",
      tags: ["tenants"],
      summary: "Create a tenant and its workspace",
      request: { body: jsonBody(CreateTenantBody) },
      responses: {
        201: jsonResponse(TenantSchema, "The new tenant"),
        ...errorResponses(400, 401, 409, 415),
      },
    }),
    async (c) => {
      const { phone, phone_number, ...rest } = c.req.valid("json");
      const tenant = await createTenant(ctx, { ...rest, phone: (phone ?? phone_number) as string });
      return c.json(tenant, 201);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/tenants/{id}",
      tags: ["tenants"],
      summary: "Read one tenant",
      request: { params: TenantIdParams },
      responses: { 200: jsonResponse(TenantSchema, "The tenant"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => c.json(await requireTenant(ctx.db, c.req.valid("param").id), 200),
  );

  api.openapi(
    createRoute({
      method: "patch",
      path: "/tenants/{id}",
      tags: ["tenants"],
      summary: "Update name, timezone, business profile or onboarding_status (re-renders CLAUDE.md)",
      request: { params: TenantIdParams, body: jsonBody(tenantPatchSchema) },
      responses: { 200: jsonResponse(TenantSchema, "The updated tenant"), ...errorResponses(400, 401, 404, 415) },
    }),
    async (c) => c.json(await updateTenant(ctx, c.req.valid("param").id, c.req.valid("json")), 200),
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: "/tenants/{id}",
      tags: ["tenants"],
      summary: "Archive a tenant; ?purge=true also removes its folder and data and says what it removed",
      request: { params: TenantIdParams, query: DeleteQuery },
      responses: { 200: jsonResponse(DeleteResult, "The archived tenant"), ...errorResponses(400, 401, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const purge = c.req.valid("query").purge === "true";
      // A purge deletes the workspace folder too: only where it is (409 wrong_instance, replayed there on Fly).
      if (purge) await assertOwnedHere(ctx, await requireTenant(ctx.db, id));
      const tenant = await archiveTenant(ctx, id);
      if (!purge) return c.json({ tenant, purged: false, removed: [] }, 200);
      const { removed } = await purgeTenant(ctx, id);
      ctx.log.warn("tenant purged", { tenantId: id, removed });
      return c.json({ tenant, purged: true, removed }, 200);
    },
  );
}

const LinkBody = z
  .object({
    telegram_chat_id: z
      .union([z.string(), z.number().int()])
      .transform((v) => String(v).trim())
      .pipe(z.string().regex(/^-?\d{1,20}$/, "must be a Telegram chat id (digits, optionally negative)")),
  })
  .openapi("LinkTelegramChat");

const NewLinkCodeSchema = z
  .object({
    code: z.string().openapi({ description: "The one-time code (shown only now)" }),
    url: z
      .string()
      .nullable()
      .openapi({ description: "https://t.me/<bot>?start=<code>; null when the bot's username is unknown" }),
    expires_at: z.string().openapi({ description: "ISO time after which the code is refused (7 days)" }),
  })
  .openapi("NewLinkCode");

const LinkCodeStatusSchema = z
  .object({ outstanding: z.boolean(), expires_at: z.string().nullable() })
  .openapi("LinkCodeStatus");

/** The Telegram link: POST/DELETE /tenants/:id/link (operator link and unlink), POST/GET /tenants/:id/link-code. */
export function registerTelegramLinkRoutes(api: AdminApi, ctx: AppContext): void {
  api.openapi(
    createRoute({
      method: "post",
      path: "/tenants/{id}/link",
      tags: ["tenants"],
      summary: "Link a Telegram chat to the tenant (operator relink: replaces any linked chat)",
      request: { params: TenantIdParams, body: jsonBody(LinkBody) },
      responses: { 200: jsonResponse(TenantSchema, "The linked tenant"), ...errorResponses(400, 401, 404, 409, 415) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { telegram_chat_id } = c.req.valid("json");
      await setTelegramChat(ctx.db, id, telegram_chat_id);
      ctx.log.info("telegram chat linked by operator", { tenantId: id, chatId: telegram_chat_id });
      return c.json(await requireTenant(ctx.db, id), 200);
    },
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: "/tenants/{id}/link",
      tags: ["tenants"],
      summary:
        "Unlink the tenant's Telegram chat (the customer can then link again: a new link code, or /start +PHONE and their shared contact)",
      request: { params: TenantIdParams },
      responses: { 200: jsonResponse(TenantSchema, "The unlinked tenant"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const wasLinked = await unlinkTelegramChat(ctx.db, id);
      ctx.log.info("telegram chat unlinked by operator", { tenantId: id, wasLinked });
      return c.json(await requireTenant(ctx.db, id), 200);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/tenants/{id}/link-code",
      tags: ["tenants"],
      summary:
        "Make (or renew) the tenant's one-time Telegram link: https://t.me/<bot>?start=<code>, 7 days, single use",
      description:
        'Only for a Telegram tenant with no linked chat (409 not_telegram, already_linked, tenant_archived). The code is stored hashed: this answer is the only time it is shown. A new code replaces the old one. url is null when the bot\'s username is unknown (no TELEGRAM_BOT_TOKEN or getMe failed): the customer can send "/start <code>" to the bot instead.',
      request: { params: TenantIdParams },
      responses: { 201: jsonResponse(NewLinkCodeSchema, "The new link code"), ...errorResponses(400, 401, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const made = await createLinkCode(ctx.db, id, ctx.clock.now());
      const botUsername = await telegramBotUsername(ctx.config);
      ctx.log.info("telegram link code made by operator", { tenantId: id, expiresAt: made.expires_at });
      return c.json(
        { code: made.code, url: botUsername ? linkCodeUrl(botUsername, made.code) : null, expires_at: made.expires_at },
        201,
      );
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/tenants/{id}/link-code",
      tags: ["tenants"],
      summary:
        "Whether the tenant has an outstanding (unused, unexpired) link code, and until when; never the code itself",
      request: { params: TenantIdParams },
      responses: {
        200: jsonResponse(LinkCodeStatusSchema, "The outstanding code's expiry"),
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await requireTenant(ctx.db, id);
      const status = await linkCodeStatus(ctx.db, id, ctx.clock.now());
      return c.json({ outstanding: status !== null, expires_at: status?.expires_at ?? null }, 200);
    },
  );
}
