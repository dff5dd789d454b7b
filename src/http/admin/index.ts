import type { AppContext } from "../../context.ts";
import type { RouteModule } from "../../ports.ts";
import type { AdminApi } from "./api.ts";
import { createAdminApi, mountOpenApiDocument } from "./api.ts";
import { registerCheckRoutes } from "./checks-routes.ts";
import { registerAgentHealthRoute, registerConversationRoutes } from "./conversation-routes.ts";
import { registerCredentialRoutes } from "./credentials-routes.ts";
import { registerInstanceRoutes } from "./instances-routes.ts";
import { registerTaskRoutes } from "./tasks-routes.ts";
import { registerTelegramLinkRoutes, registerTenantRoutes } from "./tenants-routes.ts";
import { registerUsageRoutes } from "./usage-routes.ts";

export interface AdminRoutesOptions {
  /**
   * More route groups registered on the same OpenAPI app (createRoute + api.openapi), so they
   * share its validation errors and appear in /admin/openapi.json.
   */
  register?: ((api: AdminApi) => void)[];
}

/**
 * The operators' admin API under /admin (already behind the Bearer admin key): tenants,
 * credentials, messages, session reset, Telegram link, validation, tool health checks, scheduled
 * tasks, agent health (GET /admin/agent-health: the last agent failure in full), model usage and budgets
 * (GET /admin/usage, GET /admin/tenants/:id/usage), and
 * GET /admin/openapi.json describing all of it from the same zod schemas.
 */
export function adminRoutes(ctx: AppContext, options: AdminRoutesOptions = {}): RouteModule {
  return {
    mount(_app, admin) {
      const api = createAdminApi(ctx);
      registerTenantRoutes(api, ctx);
      registerCredentialRoutes(api, ctx);
      registerConversationRoutes(api, ctx);
      registerTelegramLinkRoutes(api, ctx);
      registerCheckRoutes(api, ctx);
      registerTaskRoutes(api, ctx);
      registerAgentHealthRoute(api, ctx);
      registerUsageRoutes(api, ctx);
      registerInstanceRoutes(api, ctx);
      for (const register of options.register ?? []) register(api);
      mountOpenApiDocument(api);
      admin.route("/", api);
    },
  };
}
