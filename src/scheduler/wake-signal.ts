import type { Db } from "../db/index.ts";

// Schedulers listening for task changes, per database: createTask/updateTask/cancelTask are called
// by the admin API and the MCP tools, which hold the context but not the scheduler itself.
const listeners = new WeakMap<Db, Set<() => void>>();

/** Registers `wake` to be called whenever a task on `db` is added, changed or cancelled; returns the undo. */
export function onTasksChanged(db: Db, wake: () => void): () => void {
  let set = listeners.get(db);
  if (!set) listeners.set(db, (set = new Set()));
  set.add(wake);
  return () => set.delete(wake);
}

/** Tells this process's schedulers on `db` to re-arm their timer (other processes find it within 60 s). */
export function signalTasksChanged(db: Db): void {
  for (const wake of listeners.get(db) ?? []) wake();
}
