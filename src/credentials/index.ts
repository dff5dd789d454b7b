// The credentials vault: AES-256-GCM encrypted per-tenant secrets in the `credentials` table.
export { Vault, keyVersion, CredentialUndecryptableError } from "./vault.ts";
export type { SealedValue } from "./vault.ts";
export {
  CREDENTIAL_KEY_PATTERN,
  MAX_CREDENTIAL_VALUE_BYTES,
  checkCredential,
  credentialKeySchema,
  credentialRecordSchema,
  credentialValueSchema,
  maskValue,
} from "./store.ts";
export { setCredentials, listCredentials, deleteCredential, getCredentials, getCredential } from "./store.ts";
export type { CredentialSummary } from "./store.ts";
export { rotateCredentialsKey } from "./rotate.ts";
export { DEFAULT_GMAIL_SCOPE, DEFAULT_REDIRECT_URI, buildConsentUrl, exchangeCodeForRefreshToken, extractCode, googleClientFromConfig } from "./google-oauth.ts";
export type { GoogleClient } from "./google-oauth.ts";
export type { RotationReport } from "./rotate.ts";
export { PLATFORM_TOOL_SETTINGS, parseEnvFile, readWorkspaceEnv, tenantEnvironment, tenantSecretValues } from "./environment.ts";
