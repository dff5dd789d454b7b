import { asc, eq, sql } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import { isoAt } from "../clock.ts";
import type { Db } from "../db/index.ts";
import { schema } from "../db/index.ts";

const { instances } = schema;

/** How often a running instance writes its `last_seen_at`. */
export const HEARTBEAT_MS = 10_000;
/** An instance unseen for this long is shown as down. */
export const DOWN_AFTER_MS = 60_000;

/** One row of `instances` with whether it is up (seen within DOWN_AFTER_MS). */
export interface InstanceInfo {
  id: string;
  url: string | null;
  version: string | null;
  started_at: string;
  last_seen_at: string;
  up: boolean;
}

/** Registers (or re-registers after a restart) this instance: url, version, started and seen now. */
export async function registerInstance(
  db: Db,
  instance: { id: string; url: string | null; version: string },
  nowMs: number,
): Promise<void> {
  const now = isoAt(nowMs);
  await db
    .insert(instances)
    .values({ id: instance.id, url: instance.url, version: instance.version, started_at: now, last_seen_at: now })
    .onConflictDoUpdate({
      target: instances.id,
      set: { url: instance.url, version: instance.version, started_at: now, last_seen_at: now },
    });
}

/** Writes this instance's heartbeat. */
export async function heartbeatInstance(db: Db, id: string, nowMs: number): Promise<void> {
  await db
    .update(instances)
    .set({ last_seen_at: isoAt(nowMs) })
    .where(eq(instances.id, id));
}

/** Every registered instance, by id, each marked up or down. The console and /admin/instances show this. */
export async function listInstances(db: Db, clock: Clock): Promise<InstanceInfo[]> {
  const rows = await db.select().from(instances).orderBy(asc(instances.id));
  const cutoff = isoAt(clock.now() - DOWN_AFTER_MS);
  return rows.map((row) => ({ ...row, up: row.last_seen_at >= cutoff }));
}

/** One instance, or null. */
export async function getInstance(db: Db, id: string, clock: Clock): Promise<InstanceInfo | null> {
  const [row] = await db.select().from(instances).where(eq(instances.id, id)).limit(1);
  return row ? { ...row, up: row.last_seen_at >= isoAt(clock.now() - DOWN_AFTER_MS) } : null;
}

/** Whether any instance but `id` was seen within DOWN_AFTER_MS. */
export async function otherInstanceUp(db: Db, id: string, nowMs: number): Promise<boolean> {
  const rows = await db
    .select({ id: instances.id })
    .from(instances)
    .where(sql`${instances.id} <> ${id} AND ${instances.last_seen_at} >= ${isoAt(nowMs - DOWN_AFTER_MS)}`)
    .limit(1);
  return rows.length > 0;
}
