import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/index.ts";
import { AppError } from "../errors.ts";
import { getInstance } from "./registry.ts";

/** What ownership checks read: the tenant's owning instance (null: not yet adopted, see adoptUnownedTenants). */
export interface OwnedTenant {
  id: string;
  instance_id: string | null;
}

/** Whether the database is shared over the network (several instances, each with its own volume, may use it). */
export function isRemoteDatabase(databaseUrl: string): boolean {
  return !databaseUrl.startsWith("file:");
}

/**
 * The instance whose tenants this process serves: INSTANCE_ID with a remote database; undefined (every
 * tenant) with a `file:` database, which only processes of one machine, on one volume, can share — so a
 * host name that changes with each container start never strands a single machine's tenants.
 */
export function ownerScope(config: Pick<Config, "INSTANCE_ID" | "DATABASE_URL">): string | undefined {
  return isRemoteDatabase(config.DATABASE_URL) ? config.INSTANCE_ID : undefined;
}

/** True when this instance holds the tenant's workspace (a tenant with no owner yet counts as here; so does every tenant with a file database). */
export function isOwnedHere(config: Pick<Config, "INSTANCE_ID" | "DATABASE_URL">, tenant: OwnedTenant): boolean {
  const scope = ownerScope(config);
  return scope === undefined || tenant.instance_id === null || tenant.instance_id === scope;
}

/** 409 `wrong_instance`: the call needs a workspace another instance holds; Fly replays it there (fly-replay). */
export class WrongInstanceError extends AppError {
  override name = "WrongInstanceError";
  constructor(
    readonly ownerId: string,
    readonly ownerUrl: string | null,
    override readonly headers: Readonly<Record<string, string>>,
  ) {
    super(
      "wrong_instance",
      `This tenant's workspace is on instance ${ownerId}${ownerUrl ? ` (${ownerUrl})` : ""}: send the call there.`,
      409,
    );
  }
}

/** The error for a call that must run on `ownerId`, with its URL and the fly-replay header when on Fly. */
export async function wrongInstance(
  deps: { db: Db; clock: Clock; config: Pick<Config, "FLY_APP_NAME"> },
  ownerId: string,
): Promise<WrongInstanceError> {
  const owner = await getInstance(deps.db, ownerId, deps.clock);
  const headers: Record<string, string> = deps.config.FLY_APP_NAME ? { "fly-replay": `instance=${ownerId}` } : {};
  return new WrongInstanceError(ownerId, owner?.url ?? null, headers);
}

/** Throws `wrong_instance` unless this instance holds the tenant's workspace. */
export async function assertOwnedHere(
  deps: { db: Db; clock: Clock; config: Pick<Config, "INSTANCE_ID" | "DATABASE_URL" | "FLY_APP_NAME"> },
  tenant: OwnedTenant,
): Promise<void> {
  if (isOwnedHere(deps.config, tenant)) return;
  throw await wrongInstance(deps, tenant.instance_id as string);
}
