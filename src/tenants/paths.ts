import { join, resolve } from "node:path";
import type { Config } from "../config.ts";
import { assertTenantId } from "./ids.ts";

type PathConfig = Pick<Config, "TENANTS_DIR">;

/**
 * `$TENANTS_DIR/<id>`; throws ValidationError unless `tenantId` is a UUID (so no other id reaches the disk).
 * Files inside it are only ever touched through workspace-fs.ts (the agent may swap any of them).
 */
export function workspacePath(config: PathConfig, tenantId: string): string {
  assertTenantId(tenantId);
  return join(resolve(config.TENANTS_DIR), tenantId.toLowerCase());
}
