import type { AppContext } from "../../src/context.ts";
import { schema } from "../../src/db/index.ts";

/** A tenants row as stored. */
export type TenantRow = typeof schema.tenants.$inferSelect;

let phoneCounter = 0;

/**
 * Inserts a tenant row directly (for tests of modules that only read tenants; the tenants module's own
 * functions are tested in test/tenants/). Defaults: a random id, name "Acme Plumbing", a phone number
 * unique in this process, channel telegram; the schema's defaults for the rest (ACTIVE, DISCOVERY, UTC).
 */
export async function insertTenant(
  ctx: Pick<AppContext, "db">,
  fields: Partial<typeof schema.tenants.$inferInsert> = {},
): Promise<TenantRow> {
  phoneCounter++;
  const rows = await ctx.db
    .insert(schema.tenants)
    .values({
      id: crypto.randomUUID(),
      name: "Acme Plumbing",
      phone_number: `+1555${String(Date.now() % 100000).padStart(5, "0")}${String(phoneCounter % 1000).padStart(3, "0")}`,
      channel: "telegram",
      ...fields,
    })
    .returning();
  return rows[0]!;
}
