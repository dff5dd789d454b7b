import type { AppContext } from "../context.ts";
import { ensureClaudeMdCurrent, statWorkspaceEntry } from "../tenants/index.ts";
import type { Tenant } from "../tenants/index.ts";

/** Brings a tenant's CLAUDE.md up to date before a run (see ensureClaudeMdCurrent); an unsafe file → UnsafeWorkspaceFileError. */
export type ClaudeMdCheck = (tenant: Tenant) => Promise<void>;

/**
 * ensureClaudeMdCurrent, skipped when neither the tenant's row nor the file has changed since the last
 * check that left them matching: the rendered text is a function of the two (the row and the notes kept
 * in the file), so an unchanged pair needs no read, render and compare. The file is judged by one lstat
 * (inode, size, mtime, ctime): an edit by the operator, the agent or another process shows there.
 */
export function createClaudeMdCheck(ctx: Pick<AppContext, "config" | "log">): ClaudeMdCheck {
  const matched = new Map<string, string>(); // tenant id → key of the last (row, file) pair found matching

  function keyOf(tenant: Tenant): string | null {
    let info;
    try {
      info = statWorkspaceEntry(ctx.config, tenant.id, "CLAUDE.md");
    } catch {
      return null; // the full check below reads the file safely and says what is wrong
    }
    if (!info?.isFile() || info.nlink !== 1) return null; // missing or not a plain regular file: always the full check
    return `${JSON.stringify(tenant)}\n${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
  }

  return async function checkClaudeMd(tenant: Tenant): Promise<void> {
    const before = keyOf(tenant);
    if (before !== null && matched.get(tenant.id) === before) return;
    const outcome = await ensureClaudeMdCurrent(ctx, tenant);
    // Unchanged: the file read after `before` was taken matched, so `before` is a safe key (a change in
    // between alters the file's stat and forces the next check). Written: our own write's stat.
    const key = outcome === "unchanged" ? before : outcome === "written" ? keyOf(tenant) : null;
    if (key === null) matched.delete(tenant.id);
    else matched.set(tenant.id, key);
  };
}
