// Tenants: records, lifecycle, Telegram links, workspace folders and the embedded template.
export type { NewTenantInput, OnboardingStatus, Tenant, TenantChannel } from "./types.ts";
export { CHANNELS, ONBOARDING_STATUSES, TENANT_STATUSES, newTenantSchema, phoneSchema, tenantPatchSchema } from "./types.ts";
export { normalizePhone, servingRefusal } from "./types.ts";
export { canonicalTimezone, isValidTimezone } from "./types.ts";
export { isTenantId } from "./types.ts";
export { findTenantByChatId, findTenantByPhone, getTenant, listTenants, requireMutableTenant, requireTenant } from "./store.ts";
export { createTenant, setOnboardingStatus, updateTenant } from "./service.ts";
export { archiveTenant, purgeTenant } from "./service.ts";
export { linkTelegramChat, setTelegramChat, unlinkTelegramChat } from "./telegram-link.ts";
export { consumeLinkCode, createLinkCode, dropLinkCode, isLinkCodeShaped, linkCodeStatus, linkCodeUrl } from "./telegram-link.ts";
export type { NewLinkCode } from "./telegram-link.ts";
export { tenantConfigDirPath, workspacePath } from "./workspace-fs.ts";
export { TENANT_UID_BASE, tenantUid } from "./store.ts";
export { initWorkspace } from "./workspace.ts";
export { MAX_ENV_FILE_BYTES, appendWorkspaceFile, readWorkspaceFile, statWorkspaceEntry, writeWorkspaceFile } from "./workspace-fs.ts";
export type { WorkspaceReport } from "./workspace.ts";
export { ensureClaudeMdCurrent } from "./claude-md.ts";
export { TEMPLATE_EXECUTION_FILES, TEMPLATE_TOOLS } from "./template/index.ts";
