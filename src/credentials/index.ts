// The credentials vault: AES-256-GCM encrypted per-tenant secrets in the `credentials` table.

export { tenantEnvironment, tenantSecretValues } from "./environment.ts";
export type { GoogleClient } from "./google-oauth.ts";
export {
  buildConsentUrl,
  DEFAULT_GMAIL_SCOPE,
  DEFAULT_REDIRECT_URI,
  exchangeCodeForRefreshToken,
  extractCode,
  googleClientFromConfig,
} from "./google-oauth.ts";
export type { RotationReport } from "./rotate.ts";
export { rotateCredentialsKey } from "./rotate.ts";
export type { CredentialSummary } from "./store.ts";
export {
  CREDENTIAL_KEY_PATTERN,
  credentialKeySchema,
  credentialRecordSchema,
  credentialValueSchema,
  deleteCredential,
  getCredential,
  listCredentials,
  setCredentials,
} from "./store.ts";
