import type { AppContext } from "../context.ts";
import {
  acquireLease,
  getSessionState,
  isDeadLocalOwner,
  newMoveOwner,
  releaseLease,
  renewLease,
} from "../conversation/index.ts";
import { AppError, ConflictError, errorMessage, ValidationError } from "../errors.ts";
import type { InstanceInfo } from "../instances/index.ts";
import { assertOwnedHere, getInstance, listInstances } from "../instances/index.ts";
import type { Tenant } from "../tenants/index.ts";
import { requireTenant, switchTenantOwner, workspacePath } from "../tenants/index.ts";
import { packedStream, packPart, removeLocalCopy, TENANT_FILE_PARTS } from "./tenant-files.ts";

/** What a move did. `already_moved`: the tenant was on the target before this call (a rerun); leftovers were removed. */
export interface MoveReport {
  tenant_id: string;
  from: string;
  to: string;
  status: "moved" | "already_moved";
  /** Bytes of tar sent (0 when already moved). */
  bytes: number;
  /** Whether this instance deleted a copy of the tenant's files. */
  removed_local_copy: boolean;
}

export interface MoveOptions {
  fetch?: typeof fetch;
  /** How long to wait for a running turn to end before giving up (default AGENT_TIMEOUT_MS + 30 s). */
  leaseWaitMs?: number;
}

/**
 * The source's half of `move-tenant` (POST /admin/tenants/{id}/move): holds the tenant's session lease
 * (so no turn runs and none starts; a running one is waited for), sends the workspace and the CLI
 * directory to the target (tar, SHA-256 checked there), switches `tenants.instance_id` in one
 * conditional UPDATE, releases the lease and deletes the local copy. Every step before the UPDATE
 * leaves the source the owner and can be repeated; after it the target owns the tenant, and a rerun
 * only deletes what is left here.
 */
export async function moveTenantOut(
  ctx: AppContext,
  tenant: Tenant,
  to: string,
  options: MoveOptions = {},
): Promise<MoveReport> {
  const self = ctx.config.INSTANCE_ID;
  const log = ctx.log.child({ component: "move-tenant", tenantId: tenant.id, from: self, to });
  if (tenant.instance_id === to) {
    const removed = to === self ? false : await removeLocalCopy(ctx, tenant.id);
    if (removed) log.info("tenant already moved; removed the copy left here");
    return { tenant_id: tenant.id, from: self, to, status: "already_moved", bytes: 0, removed_local_copy: removed };
  }
  await assertOwnedHere(ctx, tenant);
  const target = await requireUpInstance(ctx, to);
  if (target.id === self) throw new ValidationError(`The tenant is already on ${self}.`, "same_instance");

  // A move's own kind of owner id (newMoveOwner): the dispatcher of this process leaves it alone while the move
  // runs; a move cut short by a crash is freed at once by the restarted process (or by its lease's expiry).
  const { owner, done } = newMoveOwner();
  const ttlMs = ctx.config.LEASE_TTL_MS;
  try {
    await waitForLease(ctx, tenant.id, owner, options.leaseWaitMs ?? ctx.config.AGENT_TIMEOUT_MS + 30_000);
  } catch (err) {
    done();
    throw err;
  }
  log.info("move started: the tenant's lease is held");
  const heartbeat = setInterval(
    () => void renewLease(ctx.db, tenant.id, owner, ctx.clock.now(), ttlMs).catch(() => undefined),
    Math.max(250, Math.floor(ttlMs / 3)),
  );
  let bytes = 0;
  try {
    for (const part of TENANT_FILE_PARTS) {
      const packed = await packPart(ctx, tenant.id, part);
      if (!packed) continue;
      bytes += packed.bytes;
      await sendPart(ctx, target, tenant.id, part, packed, options.fetch ?? fetch);
      log.info("part sent", { part, bytes: packed.bytes });
    }
    if (!(await renewLease(ctx.db, tenant.id, owner, ctx.clock.now(), ttlMs)))
      throw new ConflictError(
        "move_interrupted",
        "The move lost the tenant's lease (an operator freed it?); run it again.",
      );
    if (!(await switchTenantOwner(ctx.db, tenant.id, self, to, ctx.clock.now())))
      throw new ConflictError("move_interrupted", "The tenant's owner changed during the move; read it and run again.");
  } finally {
    clearInterval(heartbeat);
    await releaseLease(ctx.db, tenant.id, owner, ctx.clock.now()).catch((err: unknown) =>
      log.warn("lease release after the move failed (it expires)", { error: err }),
    );
    done();
  }
  log.info("ownership switched", { bytes });
  const removed = await removeLocalCopy(ctx, tenant.id);
  return { tenant_id: tenant.id, from: self, to, status: "moved", bytes, removed_local_copy: removed };
}

async function requireUpInstance(ctx: AppContext, id: string): Promise<InstanceInfo> {
  const instance = await getInstance(ctx.db, id, ctx.clock);
  if (!instance)
    throw new ValidationError(`No instance ${id} is registered (GET /admin/instances).`, "unknown_instance");
  if (!instance.up || !instance.url)
    throw new ConflictError("instance_down", `Instance ${id} is down (last seen ${instance.last_seen_at}).`);
  return instance;
}

async function waitForLease(ctx: AppContext, tenantId: string, owner: string, waitMs: number): Promise<void> {
  const deadline = ctx.clock.now() + waitMs;
  for (;;) {
    if (await acquireLease(ctx.db, tenantId, owner, ctx.clock.now(), ctx.config.LEASE_TTL_MS)) return;
    // Held by a process of this host that is gone (an earlier move cut short by a crash): free it now.
    const holder = (await getSessionState(ctx.db, tenantId))?.lease_owner;
    if (holder && isDeadLocalOwner(holder, owner)) {
      await releaseLease(ctx.db, tenantId, holder, ctx.clock.now());
      continue;
    }
    if (ctx.clock.now() >= deadline)
      throw new ConflictError("tenant_busy", "The tenant's agent is still running; try the move again later.");
    await Bun.sleep(250);
  }
}

async function sendPart(
  ctx: AppContext,
  target: InstanceInfo,
  tenantId: string,
  part: string,
  packed: { path: string; sha256: string; bytes: number },
  fetchImpl: typeof fetch,
): Promise<void> {
  const url = `${target.url}/admin/tenants/${tenantId}/files/${part}`;
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: "PUT",
      headers: {
        ...adminHeaders(ctx, target.id),
        "content-type": "application/x-tar",
        "content-length": String(packed.bytes),
        "x-content-sha256": packed.sha256,
        "x-source-workspace": workspacePath(ctx.config, tenantId),
      },
      body: packedStream(packed),
    });
  } catch (err) {
    throw new AppError("move_failed", `Sending the ${part} to ${target.id} failed: ${errorMessage(err)}`, 502);
  }
  if (!response.ok)
    throw new AppError(
      "move_failed",
      `${target.id} refused the ${part}: ${response.status} ${await response.text()}`,
      502,
    );
}

/** Headers of a call from one instance to another: the admin key, and Fly's routing to that very machine. */
function adminHeaders(ctx: AppContext, instanceId: string): Record<string, string> {
  return { authorization: `Bearer ${ctx.config.ADMIN_API_KEY}`, "fly-force-instance-id": instanceId };
}

/**
 * `proxystaff move-tenant <id> --to <instance>` (any machine): asks the owner to move the tenant
 * (POST /admin/tenants/{id}/move on it). When the tenant is already on the target (a rerun after the
 * switch), asks every other live instance to delete a copy left behind.
 */
export async function requestMove(
  ctx: AppContext,
  tenantId: string,
  to: string,
  options: MoveOptions = {},
): Promise<MoveReport[]> {
  const fetchImpl = options.fetch ?? fetch;
  const tenant = await requireTenant(ctx.db, tenantId);
  const instances = await listInstances(ctx.db, ctx.clock);
  if (!instances.some((i) => i.id === to))
    throw new ValidationError(`No instance ${to} is registered.`, "unknown_instance");
  const from = tenant.instance_id ?? ctx.config.INSTANCE_ID;
  const callOn =
    from === to ? instances.filter((i) => i.id !== to && i.up && i.url) : instances.filter((i) => i.id === from);
  if (from !== to && !callOn[0]?.up)
    throw new ConflictError(
      "instance_down",
      `The tenant's instance ${from} is down: its tenants wait. Bring it back (or its volume's snapshot on a machine with INSTANCE_ID=${from}), then move.`,
    );
  const reports: MoveReport[] = [];
  for (const instance of callOn) {
    const response = await fetchImpl(`${instance.url}/admin/tenants/${tenant.id}/move`, {
      method: "POST",
      headers: { ...adminHeaders(ctx, instance.id), "content-type": "application/json" },
      body: JSON.stringify({ to }),
    });
    const body = (await response.json().catch(() => null)) as
      | MoveReport
      | { error?: { code: string; message: string } }
      | null;
    if (!response.ok) {
      const error = body && "error" in body ? body.error : undefined;
      throw new AppError(
        error?.code ?? "move_failed",
        `${instance.id}: ${error?.message ?? `answered ${response.status}`}`,
        502,
      );
    }
    if (body && "tenant_id" in body) reports.push(body);
  }
  if (reports.length === 0)
    reports.push({ tenant_id: tenant.id, from, to, status: "already_moved", bytes: 0, removed_local_copy: false });
  return reports;
}
