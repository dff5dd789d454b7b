import type { AppContext } from "../../context.ts";
import { appendTimeline } from "../../conversation/index.ts";
import { getCredential } from "../../credentials/index.ts";
import { cancelTask, createTask, listTasks } from "../../scheduler/index.ts";
import { getTenant, setOnboardingStatus, updateTenant } from "../../tenants/index.ts";
import type { ToolBackends } from "./backends.ts";

/** Most tasks list_tasks reads for one tenant. */
const LIST_READ_LIMIT = 1000;

/** The tools' view of the real modules; every call is scoped to the tenant id it is given. */
export function createToolBackends(ctx: AppContext): ToolBackends {
  return {
    findTenant: (tenantId) => getTenant(ctx.db, tenantId),
    createTask: (tenantId, input) => createTask(ctx, tenantId, input, "agent"),
    listTasks: (tenantId, status) => listTasks(ctx.db, { tenantId, ...(status ? { status } : {}), limit: LIST_READ_LIMIT }),
    cancelTask: (tenantId, taskId) => cancelTask(ctx, taskId, { tenantId }),
    updateBusiness: (tenantId, fields) => updateTenant(ctx, tenantId, { business: fields }),
    setOnboardingStatus: (tenantId, status) => setOnboardingStatus(ctx, tenantId, status, { by: "agent" }),
    getCredential: (tenantId, key) => getCredential(ctx, tenantId, key),
    appendTimeline: async (tenant, line) => {
      await appendTimeline(ctx, tenant, line);
    },
  };
}
