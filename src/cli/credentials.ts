import { DEFAULT_GMAIL_SCOPE, DEFAULT_REDIRECT_URI } from "../credentials/index.ts";
import { UsageError } from "../errors.ts";
import { rotateVaultKey, startGmailConsent, storeGmailRefreshToken } from "../ops/runbook.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs } from "./command.ts";

const USAGE = "Usage: proxystaff google-oauth <tenant-id> [CODE] [--code CODE] [--redirect-uri URI] [--scope SCOPES]";

export const googleOauthCommand: Command = {
  name: "google-oauth",
  summary: "Gmail OAuth for a tenant: consent URL, code exchange, GMAIL_REFRESH_TOKEN into the vault",
  help: `${USAGE}

The installed-app OAuth flow for Gmail (replaces scripts/google-oauth.py):
  1. Prints the consent URL (GOOGLE_CLIENT_ID). The customer opens it and allows access.
  2. Google redirects to ${DEFAULT_REDIRECT_URI}/?code=…; the page will not load — copy the code
     (or the whole address) from the address bar.
  3. The code comes from the CODE argument / --code, or is asked for when stdin is a terminal.
     Without either, the command prints the URL and stops (run it again with the code).
  4. The code is exchanged at GOOGLE_TOKEN_URL with GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET,
     and the refresh token is stored in the tenant's vault as GMAIL_REFRESH_TOKEN.

Options:
  --code CODE          The authorization code (or the redirected address)
  --redirect-uri URI   Must match the consent URL's (default ${DEFAULT_REDIRECT_URI})
  --scope SCOPES       Space-separated scopes (default ${DEFAULT_GMAIL_SCOPE})`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      code: { type: "string" },
      "redirect-uri": { type: "string" },
      scope: { type: "string" },
    });
    const [id, codeArg, extra] = positionals;
    if (!id) throw new UsageError(`Missing <tenant-id>. ${USAGE}`);
    if (extra !== undefined || (codeArg !== undefined && values.code !== undefined))
      throw new UsageError("Give the code once.");
    const redirectUri = values["redirect-uri"] ?? DEFAULT_REDIRECT_URI;
    const { tenant, client, consentUrl } = await startGmailConsent(ctx, id, { redirectUri, scope: values.scope });
    io.out(`Gmail access for ${tenant.name} (${tenant.id}).`);
    io.out("Open this URL in a browser signed in to the customer's Google account and allow access:");
    io.out("");
    io.out(consentUrl);
    io.out("");
    let input = values.code ?? codeArg;
    if (input === undefined && io.isInteractive) {
      input = (await io.readLine("Paste the code (or the whole address Google redirected to): "))?.trim() || undefined;
    }
    if (input === undefined) {
      io.out(`Then run: proxystaff google-oauth ${tenant.id} --code <CODE>`);
      return 0;
    }
    await storeGmailRefreshToken(ctx, tenant, client, input, redirectUri);
    io.out(`Stored GMAIL_REFRESH_TOKEN in the vault for tenant ${tenant.id}.`);
    return 0;
  },
};

export const rotateCredentialsKeyCommand: Command = {
  name: "rotate-credentials-key",
  summary: "Re-encrypt every stored credential with the current CREDENTIALS_KEY",
  help: `Usage: proxystaff rotate-credentials-key [--json]

Key rotation, step by step:
  1. Set CREDENTIALS_KEY to the new key and CREDENTIALS_KEY_PREVIOUS to the old one
     (a comma list if there are several), then restart: both keys decrypt.
  2. Run this command: every credential not sealed with the current key is re-encrypted.
     It prints how many were rotated, already current, and failed. Safe to run again.
  3. When it reports 0 failed, remove the old key from CREDENTIALS_KEY_PREVIOUS.
Exit code 1 if any credential could not be decrypted (listed by tenant and key, never a value).`,
  async run(args, io, ctx) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: "boolean" } });
    if (positionals.length > 0) throw new UsageError(`Unexpected argument: ${positionals[0]}`);
    const report = await rotateVaultKey(ctx);
    if (values.json) {
      io.out(JSON.stringify(report, null, 2));
    } else {
      io.out(`Rotated: ${report.rotated}, already current: ${report.alreadyCurrent}, failed: ${report.failed}.`);
      for (const f of report.failures) io.err(`  failed: tenant ${f.tenant_id} key ${f.key}: ${f.reason}`);
      if (report.failed > 0) io.err("Add the key these were sealed with to CREDENTIALS_KEY_PREVIOUS and run again.");
    }
    return report.failed > 0 ? 1 : 0;
  },
};

/** The `proxystaff` commands this module adds. */
export const credentialsCommands: Command[] = [googleOauthCommand, rotateCredentialsKeyCommand];
