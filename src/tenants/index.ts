// Tenants: records, lifecycle, Telegram links, workspace folders and the embedded template.

export { ensureClaudeMdCurrent } from "./claude-md.ts";
export { archiveTenant, createTenant, purgeTenant, setOnboardingStatus, updateTenant } from "./service.ts";
export {
  adoptUnownedTenants,
  findTenantByChatId,
  findTenantByPhone,
  getTenant,
  listTenants,
  requireMutableTenant,
  requireTenant,
  switchTenantOwner,
  TENANT_UID_BASE,
  tenantUid,
} from "./store.ts";
export type { NewLinkCode } from "./telegram-link.ts";
export {
  consumeLinkCode,
  createLinkCode,
  dropLinkCode,
  isLinkCodeShaped,
  linkCodeStatus,
  linkCodeUrl,
  linkTelegramChat,
  setTelegramChat,
  unlinkTelegramChat,
} from "./telegram-link.ts";
export { TEMPLATE_EXECUTION_FILES, TEMPLATE_TOOLS } from "./template/index.ts";
export type { NewTenantInput, OnboardingStatus, Tenant, TenantChannel } from "./types.ts";
export {
  CHANNELS,
  canonicalTimezone,
  isTenantId,
  isValidTimezone,
  newTenantSchema,
  normalizePhone,
  ONBOARDING_STATUSES,
  phoneSchema,
  servingRefusal,
  TENANT_STATUSES,
  tenantPatchSchema,
} from "./types.ts";
export type { WorkspaceReport } from "./workspace.ts";
export { initWorkspace } from "./workspace.ts";
export {
  appendWorkspaceFile,
  MAX_ENV_FILE_BYTES,
  readWorkspaceBytes,
  readWorkspaceFile,
  statWorkspaceEntry,
  tenantConfigDirPath,
  workspacePath,
  writeWorkspaceFile,
} from "./workspace-fs.ts";
