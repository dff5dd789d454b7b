// Tenants: records, lifecycle, Telegram links, workspace folders and the embedded template.
export type {
  BusinessProfile,
  ListTenantsOptions,
  NewTenantInput,
  OnboardingStatus,
  Tenant,
  TenantChannel,
  TenantPatch,
  TenantStatus,
  ServingRefusal,
} from "./types.ts";
export {
  CHANNELS,
  ONBOARDING_STATUSES,
  TENANT_STATUSES,
  businessPatchSchema,
  businessProfileSchema,
  newTenantSchema,
  phoneSchema,
  tenantPatchSchema,
  timezoneSchema,
} from "./types.ts";
export { normalizePhone, servingRefusal } from "./types.ts";
export { canonicalTimezone, isValidTimezone } from "./types.ts";
export { assertTenantId, isTenantId } from "./types.ts";
export { assertMutable, findTenantByChatId, findTenantByPhone, getTenant, listTenants, requireMutableTenant, requireTenant } from "./store.ts";
export { createTenant, setOnboardingStatus, updateTenant } from "./service.ts";
export { archiveTenant, purgeTenant } from "./service.ts";
export { assertTransition, canTransition } from "./service.ts";
export type { LifecycleActor } from "./service.ts";
export { linkTelegramChat, setTelegramChat, unlinkTelegramChat } from "./telegram-link.ts";
export type { LinkOutcome } from "./telegram-link.ts";
export { consumeLinkCode, createLinkCode, dropLinkCode, isLinkCodeShaped, LINK_CODE_TTL_MS, linkCodeStatus, linkCodeUrl } from "./telegram-link.ts";
export type { NewLinkCode } from "./telegram-link.ts";
export { tenantConfigDirPath, workspacePath } from "./workspace-fs.ts";
export { TENANT_UID_BASE, tenantUid } from "./store.ts";
export { createWorkspace, initWorkspace, removeWorkspace } from "./workspace.ts";
export {
  MAX_CLAUDE_MD_BYTES,
  MAX_ENV_FILE_BYTES,
  UnsafeWorkspaceFileError,
  appendWorkspaceFile,
  readWorkspaceFile,
  statWorkspaceEntry,
  writeWorkspaceFile,
} from "./workspace-fs.ts";
export type { WorkspaceReport } from "./workspace.ts";
export { extractPreservedNotes, renderClaudeMd, writeClaudeMd } from "./claude-md.ts";
export type { PreservedNotes } from "./claude-md.ts";
export { ensureClaudeMdCurrent } from "./claude-md.ts";
export type { ClaudeMdFreshness } from "./claude-md.ts";
export { TEMPLATE_EXECUTION_FILES, TEMPLATE_TOOLS, WORKSPACE_ENV_FILE } from "./template/index.ts";
export type { TemplateTool } from "./template/index.ts";
