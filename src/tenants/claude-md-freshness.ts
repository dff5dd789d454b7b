import { existsSync } from "node:fs";
import type { AppContext } from "../context.ts";
import { extractPreservedNotes, renderClaudeMd } from "./claude-md.ts";
import { workspacePath } from "./paths.ts";
import type { Tenant } from "./types.ts";
import { MAX_CLAUDE_MD_BYTES, UnsafeWorkspaceFileError, readWorkspaceFile, writeWorkspaceFile } from "./workspace-fs.ts";

/** What ensureClaudeMdCurrent did: nothing, wrote a fresh file, or could not (logged). */
export type ClaudeMdFreshness = "unchanged" | "written" | "failed";

/**
 * Makes the tenant's `CLAUDE.md` match its current record before an agent run: renders it from the
 * tenant (with the operator and agent notes of the file that is there), compares, and writes only
 * when the text differs — so a change made straight in the database (the runbook's
 * `UPDATE tenants SET onboarding_status = 'LIVE' …`) reaches the agent at its next run, while an
 * unchanged file is never touched (its mtime stays). A missing file is written. A CLAUDE.md that is
 * unsafe to read (a symlink, a FIFO, a hard link, over MAX_CLAUDE_MD_BYTES) → UnsafeWorkspaceFileError
 * thrown: the run must fail and tell the operator. Any other failure is logged and the run goes on
 * with the file as it is.
 */
export async function ensureClaudeMdCurrent(ctx: Pick<AppContext, "config" | "log">, tenant: Tenant): Promise<ClaudeMdFreshness> {
  const fields = { tenantId: tenant.id, stage: tenant.onboarding_status };
  try {
    if (!existsSync(workspacePath(ctx.config, tenant.id))) throw new Error("the workspace folder is missing (init-tenant recreates it)");
    const existing = readWorkspaceFile(ctx.config, tenant.id, "CLAUDE.md", MAX_CLAUDE_MD_BYTES);
    const rendered = renderClaudeMd(tenant, existing === null ? {} : extractPreservedNotes(existing));
    if (existing === rendered) return "unchanged";
    writeWorkspaceFile(ctx.config, tenant.id, "CLAUDE.md", rendered, 0o644);
    ctx.log.info("CLAUDE.md re-rendered: it did not match the tenant's record", { ...fields, wasMissing: existing === null });
    return "written";
  } catch (err) {
    if (err instanceof UnsafeWorkspaceFileError) {
      ctx.log.warn("CLAUDE.md is unsafe: the run is refused", { ...fields, problem: err.problem });
      throw err;
    }
    ctx.log.warn("CLAUDE.md could not be brought up to date; the run uses the file as it is", { ...fields, error: err });
    return "failed";
  }
}
