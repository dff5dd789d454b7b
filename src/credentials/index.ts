// The credentials vault: AES-256-GCM encrypted per-tenant secrets in the `credentials` table.
export { CREDENTIAL_KEY_PATTERN, credentialKeySchema, credentialRecordSchema, credentialValueSchema } from "./store.ts";
export { setCredentials, listCredentials, deleteCredential, getCredential } from "./store.ts";
export type { CredentialSummary } from "./store.ts";
export { rotateCredentialsKey } from "./rotate.ts";
export { DEFAULT_GMAIL_SCOPE, DEFAULT_REDIRECT_URI, buildConsentUrl, exchangeCodeForRefreshToken, extractCode, googleClientFromConfig } from "./google-oauth.ts";
export type { GoogleClient } from "./google-oauth.ts";
export type { RotationReport } from "./rotate.ts";
export { tenantEnvironment, tenantSecretValues } from "./environment.ts";
