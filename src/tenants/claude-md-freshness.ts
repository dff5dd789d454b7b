import { randomBytes } from "node:crypto";
import { lstat, readFile, rename, rm, writeFile } from "node:fs/promises";
import type { AppContext } from "../context.ts";
import { extractPreservedNotes, renderClaudeMd } from "./claude-md.ts";
import { resolveInWorkspace } from "./paths.ts";
import type { Tenant } from "./types.ts";

/** A CLAUDE.md larger than this is left alone (and logged): it is not ours to read into memory or rewrite. */
export const MAX_CLAUDE_MD_BYTES = 1024 * 1024;

/** What ensureClaudeMdCurrent did: nothing, wrote a fresh file, or could not (logged). */
export type ClaudeMdFreshness = "unchanged" | "written" | "failed";

/**
 * Makes the tenant's `CLAUDE.md` match its current record before an agent run: renders it from the
 * tenant (with the operator and agent notes of the file that is there), compares, and writes only
 * when the text differs — so a change made straight in the database (the runbook's
 * `UPDATE tenants SET onboarding_status = 'LIVE' …`) reaches the agent at its next run, while an
 * unchanged file is never touched (its mtime stays). A missing file is written; anything at the path
 * that is not a regular file (a symlink, a FIFO) is replaced, never read through. Never throws:
 * a failure is logged and the run goes on with the file as it is.
 */
export async function ensureClaudeMdCurrent(ctx: Pick<AppContext, "config" | "log">, tenant: Tenant): Promise<ClaudeMdFreshness> {
  const fields = { tenantId: tenant.id, stage: tenant.onboarding_status };
  try {
    const path = resolveInWorkspace(ctx.config, tenant.id, "CLAUDE.md");
    const existing = await readRegularFile(path);
    if (existing === "too_large") {
      ctx.log.warn("CLAUDE.md not re-rendered: the file is over the size limit", { ...fields, maxBytes: MAX_CLAUDE_MD_BYTES });
      return "failed";
    }
    const rendered = renderClaudeMd(tenant, existing === null ? {} : extractPreservedNotes(existing));
    if (existing === rendered) return "unchanged";
    const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
    try {
      await writeFile(temporary, rendered, { mode: 0o644, flag: "wx" });
      await rename(temporary, path);
    } catch (err) {
      await rm(temporary, { force: true }).catch(() => {}); // best effort: a stray temp file is harmless
      throw err;
    }
    ctx.log.info("CLAUDE.md re-rendered: it did not match the tenant's record", { ...fields, wasMissing: existing === null });
    return "written";
  } catch (err) {
    ctx.log.warn("CLAUDE.md could not be brought up to date; the run uses the file as it is", { ...fields, error: err });
    return "failed";
  }
}

/** The file's text; null when nothing (or something other than a regular file) is there; "too_large" past the cap. */
async function readRegularFile(path: string): Promise<string | null | "too_large"> {
  const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  });
  if (info === null || !info.isFile()) return null;
  if (info.size > MAX_CLAUDE_MD_BYTES) return "too_large";
  return readFile(path, "utf8");
}
