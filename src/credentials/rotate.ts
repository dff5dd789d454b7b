import { and, eq, ne } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { AppContext } from "../context.ts";
import { schema } from "../db/index.ts";
import { Vault } from "./vault.ts";

const { credentials } = schema;

/** What rotateCredentialsKey did. */
export interface RotationReport {
  /** Rows re-encrypted with the current key. */
  rotated: number;
  /** Rows that were already sealed with the current key. */
  alreadyCurrent: number;
  /** Rows that could not be decrypted with any configured key (left unchanged). */
  failed: number;
  /** Which rows failed and why (tenant id and key name; never a value). */
  failures: { tenant_id: string; key: string; reason: string }[];
}

/**
 * Re-encrypts every credential not sealed with the current CREDENTIALS_KEY, opening it with the
 * key its version names (CREDENTIALS_KEY_PREVIOUS). Each row is replaced with one conditional
 * UPDATE that only applies if the row was not changed meanwhile. Safe to run again.
 */
export async function rotateCredentialsKey(
  ctx: Pick<AppContext, "config" | "db" | "log" | "clock">,
): Promise<RotationReport> {
  const vault = Vault.fromConfig(ctx.config);
  const report: RotationReport = { rotated: 0, alreadyCurrent: 0, failed: 0, failures: [] };
  const rows = await ctx.db.select().from(credentials);
  for (const row of rows) {
    if (row.key_version === vault.currentVersion) {
      report.alreadyCurrent++;
      continue;
    }
    let plaintext: string;
    try {
      plaintext = vault.open(row.tenant_id, row.key, row);
    } catch (err) {
      report.failed++;
      report.failures.push({ tenant_id: row.tenant_id, key: row.key, reason: (err as Error).message });
      continue;
    }
    const sealed = vault.seal(row.tenant_id, row.key, plaintext);
    const updated = await ctx.db
      .update(credentials)
      .set({ ...sealed, updated_at: isoAt(ctx.clock.now()) })
      .where(
        and(
          eq(credentials.tenant_id, row.tenant_id),
          eq(credentials.key, row.key),
          eq(credentials.iv, row.iv),
          ne(credentials.key_version, vault.currentVersion),
        ),
      )
      .returning({ key: credentials.key });
    if (updated.length) report.rotated++;
    else report.alreadyCurrent++; // replaced meanwhile by a write, which sealed it with the current key
  }
  ctx.log.info("credentials key rotation", {
    rotated: report.rotated,
    alreadyCurrent: report.alreadyCurrent,
    failed: report.failed,
    keyVersion: vault.currentVersion,
  });
  return report;
}
