import { and, eq, isNull } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { Db } from "../db/index.ts";
import { schema } from "../db/index.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import { isUniqueViolation } from "./db-errors.ts";
import { tenantNotFound } from "./ids.ts";
import { findTenantByChatId, requireMutableTenant, requireTenant } from "./store.ts";

const { tenants } = schema;

/** Outcome of a customer's link (shared contact or link code). */
export type LinkOutcome = "linked" | "already_linked" | "chat_in_use" | "not_linkable";

function checkChatId(chatId: string): string {
  const id = String(chatId).trim();
  if (!/^-?\d{1,20}$/.test(id)) throw new ValidationError("Telegram chat id must be an integer.", "invalid_chat_id");
  return id;
}

/**
 * Links a Telegram chat to a tenant that has none, with one conditional UPDATE, so two racing
 * links cannot both win. "already_linked": the tenant already has a chat (this one or another;
 * relinking is an operator action, see setTelegramChat). "chat_in_use": the chat belongs to
 * another tenant. "not_linkable": a WhatsApp or archived tenant (the UPDATE itself checks, so no
 * caller can link one by mistake). NotFoundError when the tenant does not exist.
 */
export async function linkTelegramChat(db: Db, tenantId: string, chatId: string): Promise<LinkOutcome> {
  const chat = checkChatId(chatId);
  const tenant = await requireTenant(db, tenantId);
  try {
    const updated = await db
      .update(tenants)
      .set({ telegram_chat_id: chat, updated_at: isoAt(Date.now()) })
      .where(and(eq(tenants.id, tenant.id), isNull(tenants.telegram_chat_id), eq(tenants.channel, "telegram"), eq(tenants.status, "ACTIVE")))
      .returning({ id: tenants.id });
    if (updated.length === 1) return "linked";
  } catch (err) {
    if (isUniqueViolation(err)) return "chat_in_use";
    throw err;
  }
  const now = await requireTenant(db, tenant.id);
  return now.channel !== "telegram" || now.status !== "ACTIVE" ? "not_linkable" : "already_linked";
}

/** Clears the tenant's linked chat; true when one was linked. */
export async function unlinkTelegramChat(db: Db, tenantId: string): Promise<boolean> {
  const tenant = await requireTenant(db, tenantId);
  if (tenant.telegram_chat_id === null) return false;
  const updated = await db
    .update(tenants)
    .set({ telegram_chat_id: null, updated_at: isoAt(Date.now()) })
    .where(eq(tenants.id, tenant.id))
    .returning({ id: tenants.id });
  return updated.length === 1;
}

/**
 * Operator override: sets (or replaces) the tenant's linked chat. ConflictError `chat_in_use`
 * naming the other tenant when that chat is already linked elsewhere, `tenant_archived` for an
 * archived tenant, `not_telegram` for a WhatsApp tenant (it links itself by its phone number).
 */
export async function setTelegramChat(db: Db, tenantId: string, chatId: string): Promise<void> {
  const chat = checkChatId(chatId);
  const tenant = await requireMutableTenant(db, tenantId);
  if (tenant.channel !== "telegram") {
    throw new ConflictError(
      "not_telegram",
      `Tenant ${tenant.id} uses ${tenant.channel}: there is no Telegram chat to link. A WhatsApp tenant links itself by its phone number (${tenant.phone_number}) when that number sends its first message.`,
    );
  }
  const holder = await findTenantByChatId(db, chat);
  if (holder && holder.id !== tenant.id) throw chatInUse(chat, holder.id);
  try {
    const updated = await db
      .update(tenants)
      .set({ telegram_chat_id: chat, updated_at: isoAt(Date.now()) })
      .where(eq(tenants.id, tenant.id))
      .returning({ id: tenants.id });
    if (updated.length === 0) throw tenantNotFound(tenantId);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const other = await findTenantByChatId(db, chat);
    throw chatInUse(chat, other?.id);
  }
}

function chatInUse(chat: string, otherId: string | undefined): ConflictError {
  const where = otherId ? `tenant ${otherId}; unlink it there first (DELETE /admin/tenants/${otherId}/link)` : "another tenant; unlink it there first";
  return new ConflictError("chat_in_use", `Telegram chat ${chat} is already linked to ${where}.`);
}
