import { createHash, randomBytes } from "node:crypto";
import { and, eq, gt, isNull } from "drizzle-orm";
import { isoAt } from "../clock.ts";
import type { Db } from "../db/index.ts";
import { schema } from "../db/index.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import { isUniqueViolation } from "./service.ts";
import { findTenantByChatId, requireMutableTenant, requireTenant } from "./store.ts";
import { tenantNotFound } from "./types.ts";

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
      .where(
        and(
          eq(tenants.id, tenant.id),
          isNull(tenants.telegram_chat_id),
          eq(tenants.channel, "telegram"),
          eq(tenants.status, "ACTIVE"),
        ),
      )
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
  const where = otherId
    ? `tenant ${otherId}; unlink it there first (DELETE /admin/tenants/${otherId}/link)`
    : "another tenant; unlink it there first";
  return new ConflictError("chat_in_use", `Telegram chat ${chat} is already linked to ${where}.`);
}

const { telegramLinkCodes } = schema;

/** How long a deep-link code stays usable: 7 days. */
export const LINK_CODE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** 24 random bytes = 192 bits, 32 base64url characters (Telegram allows [A-Za-z0-9_-], up to 64, in a start parameter). */
const CODE_BYTES = 24;
const CODE_PATTERN = /^[A-Za-z0-9_-]{32,64}$/;

/** A freshly made code: the raw value exists only here (the database keeps its sha256). */
export interface NewLinkCode {
  code: string;
  /** ISO time after which the code is refused. */
  expires_at: string;
}

/** Whether a `/start` argument has the shape of a link code (a phone number never does: it has at most 15 digits). */
export function isLinkCodeShaped(argument: string): boolean {
  return CODE_PATTERN.test(argument);
}

/** The deep link the customer taps: Telegram then sends `/start <code>` from their chat. */
export function linkCodeUrl(botUsername: string, code: string): string {
  return `https://t.me/${botUsername}?start=${code}`;
}

function hashCode(code: string): string {
  return createHash("sha256").update(code).digest("hex");
}

/**
 * Creates (or renews: the old code stops working) the tenant's one-time link code, valid 7 days.
 * Only a live Telegram tenant with no linked chat gets one: ConflictError `not_telegram`,
 * `already_linked` (unlink first: relinking is an operator action), `tenant_archived` otherwise.
 */
export async function createLinkCode(db: Db, tenantId: string, nowMs: number): Promise<NewLinkCode> {
  const tenant = await requireMutableTenant(db, tenantId);
  if (tenant.channel !== "telegram") {
    throw new ConflictError(
      "not_telegram",
      `Tenant ${tenant.id} uses ${tenant.channel}: a link code is only for Telegram tenants.`,
    );
  }
  if (tenant.telegram_chat_id !== null) {
    throw new ConflictError(
      "already_linked",
      `Tenant ${tenant.id} already has a linked Telegram chat; unlink it first (DELETE /admin/tenants/${tenant.id}/link) to make a new link code.`,
    );
  }
  const code = randomBytes(CODE_BYTES).toString("base64url");
  const expires_at = isoAt(nowMs + LINK_CODE_TTL_MS);
  const row = { code_hash: hashCode(code), tenant_id: tenant.id, expires_at, created_at: isoAt(nowMs) };
  await db
    .insert(telegramLinkCodes)
    .values(row)
    .onConflictDoUpdate({
      target: telegramLinkCodes.tenant_id,
      set: { code_hash: row.code_hash, expires_at, created_at: row.created_at },
    });
  return { code, expires_at };
}

/**
 * Uses up a code: one conditional DELETE … RETURNING, so of two chats racing with the same code
 * only one gets the tenant id. Null for an unknown, used, renewed or expired code.
 */
export async function consumeLinkCode(db: Db, code: string, nowMs: number): Promise<string | null> {
  if (!isLinkCodeShaped(code)) return null;
  const rows = await db
    .delete(telegramLinkCodes)
    .where(and(eq(telegramLinkCodes.code_hash, hashCode(code)), gt(telegramLinkCodes.expires_at, isoAt(nowMs))))
    .returning({ tenantId: telegramLinkCodes.tenant_id });
  return rows[0]?.tenantId ?? null;
}

/** The tenant's outstanding (unexpired) code's expiry, or null; the code itself cannot be shown again. */
export async function linkCodeStatus(db: Db, tenantId: string, nowMs: number): Promise<{ expires_at: string } | null> {
  const [row] = await db
    .select({ expires_at: telegramLinkCodes.expires_at })
    .from(telegramLinkCodes)
    .where(and(eq(telegramLinkCodes.tenant_id, tenantId), gt(telegramLinkCodes.expires_at, isoAt(nowMs))));
  return row ?? null;
}

/** Deletes the tenant's code (after its chat was linked another way, e.g. by the contact button). */
export async function dropLinkCode(db: Db, tenantId: string): Promise<void> {
  await db.delete(telegramLinkCodes).where(eq(telegramLinkCodes.tenant_id, tenantId));
}
