import { existsSync, mkdirSync, rmSync } from "node:fs";
import type { AppContext } from "../context.ts";
import { writeClaudeMd } from "./claude-md.ts";
import { requireTenant } from "./store.ts";
import { TEMPLATE_EXECUTION_FILES, WORKSPACE_ENV_FILE } from "./template/index.ts";
import type { Tenant } from "./types.ts";
import {
  appendWorkspaceFile,
  ensureWorkspaceDir,
  statWorkspaceEntry,
  workspacePath,
  writeWorkspaceFile,
} from "./workspace-fs.ts";

type WorkspaceContext = Pick<AppContext, "config" | "log">;

/** What createWorkspace / initWorkspace did, as paths relative to the workspace. */
export interface WorkspaceReport {
  /** The workspace folder. */
  path: string;
  /** Template scripts (re)written under execution/. */
  tools: string[];
  /** Things that were missing and have been created (folders, .env, CLAUDE.md). */
  created: string[];
}

const FOLDERS = ["execution", "timeline", "inbox"] as const;

/**
 * Creates the tenant's workspace from the embedded template: CLAUDE.md rendered for the tenant,
 * execution/ with the tool scripts, timeline/, inbox/ and a comment-only .env. Anything already
 * there except the template scripts is left as it is.
 */
export async function createWorkspace(ctx: WorkspaceContext, tenant: Tenant): Promise<WorkspaceReport> {
  const { path, created, tools } = prepareWorkspace(ctx, tenant.id);
  if (!statWorkspaceEntry(ctx.config, tenant.id, "CLAUDE.md")) created.push("CLAUDE.md");
  writeClaudeMd(ctx, tenant);
  ctx.log.info("workspace created", { tenantId: tenant.id, path, created });
  return { path, tools, created };
}

/**
 * `init-tenant`: re-copies execution/ from the template (overwriting the template's scripts,
 * leaving any extra files the operator put there) and touches nothing else — CLAUDE.md, the
 * timeline, the inbox and .env are kept; only pieces that are missing altogether are recreated.
 */
export async function initWorkspace(
  ctx: Pick<AppContext, "config" | "log" | "db">,
  tenantId: string,
): Promise<WorkspaceReport> {
  const tenant = await requireTenant(ctx.db, tenantId);
  const { path, created, tools } = prepareWorkspace(ctx, tenant.id);
  if (!statWorkspaceEntry(ctx.config, tenant.id, "CLAUDE.md")) {
    writeClaudeMd(ctx, tenant);
    created.push("CLAUDE.md");
  }
  ctx.log.info("workspace initialised", { tenantId: tenant.id, path, tools, created });
  return { path, tools, created };
}

/** The folder, its skeleton (timeline/, inbox/, .env) and a fresh copy of execution/; what it had to create. */
function prepareWorkspace(ctx: WorkspaceContext, tenantId: string): WorkspaceReport {
  const path = workspacePath(ctx.config, tenantId);
  const created: string[] = [];
  if (!existsSync(path)) created.push(".");
  mkdirSync(path, { recursive: true, mode: 0o750 }); // TENANTS_DIR is the platform's: no agent can swap it

  ensureSkeleton(ctx, tenantId, created);
  return { path, tools: copyExecution(ctx, tenantId), created };
}

/** Deletes the tenant's whole workspace folder; true when there was one. */
export function removeWorkspace(ctx: WorkspaceContext, tenantId: string): boolean {
  const path = workspacePath(ctx.config, tenantId);
  if (!existsSync(path)) return false;
  rmSync(path, { recursive: true, force: true });
  ctx.log.info("workspace removed", { tenantId, path });
  return true;
}

function ensureSkeleton(ctx: WorkspaceContext, tenantId: string, created: string[]): void {
  for (const folder of FOLDERS) {
    if (ensureWorkspaceDir(ctx.config, tenantId, folder)) created.push(`${folder}/`);
  }
  // Written only when there is none (an existing .env is kept as it is); a FIFO or link there → UnsafeWorkspaceFileError.
  if (appendWorkspaceFile(ctx.config, tenantId, ".env", (isNew) => (isNew ? WORKSPACE_ENV_FILE : ""), 0o600))
    created.push(".env");
}

function copyExecution(ctx: WorkspaceContext, tenantId: string): string[] {
  const written: string[] = [];
  for (const [name, content] of Object.entries(TEMPLATE_EXECUTION_FILES)) {
    // A new file renamed over the old entry: a symlink or FIFO left in its place is replaced, never followed.
    writeWorkspaceFile(ctx.config, tenantId, `execution/${name}`, content, 0o755);
    written.push(`execution/${name}`);
  }
  return written;
}
