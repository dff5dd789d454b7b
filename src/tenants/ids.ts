import { NotFoundError, ValidationError } from "../errors.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` looks like a tenant id (a UUID). */
export function isTenantId(id: unknown): id is string {
  return typeof id === "string" && UUID.test(id);
}

/** Throws ValidationError unless `id` is a UUID; the guard in front of every filesystem path. */
export function assertTenantId(id: unknown): asserts id is string {
  if (!isTenantId(id)) throw new ValidationError("Tenant id must be a UUID.", "invalid_tenant_id");
}

/** The error for an id that names no tenant. */
export function tenantNotFound(id: string): NotFoundError {
  const shown = isTenantId(id) ? id : JSON.stringify(String(id).slice(0, 60));
  return new NotFoundError("tenant_not_found", `No tenant with id ${shown}.`);
}
