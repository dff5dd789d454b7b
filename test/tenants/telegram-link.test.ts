import { afterEach, describe, expect, test } from "bun:test";
import { ConflictError, ValidationError } from "../../src/errors.ts";
import {
  createTenant,
  findTenantByChatId,
  linkTelegramChat,
  requireTenant,
  setTelegramChat,
  unlinkTelegramChat,
} from "../../src/tenants/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext } from "../helpers/index.ts";

let t: TestContext | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

for (const driver of ["bun-sqlite", "libsql"] as const) {
  describe(`Telegram links (${driver})`, () => {
    const newTenant = async (phone: string) => {
      t ??= await createTestContext({ driver });
      return createTenant(t.ctx, { name: `T ${phone}`, phone, channel: "telegram" });
    };

    test("links once; a second link of the same tenant is already_linked", async () => {
      const tenant = await newTenant("+18015550001");
      const db = t!.ctx.db;
      expect(await linkTelegramChat(db, tenant.id, "1001")).toBe("linked");
      expect(await linkTelegramChat(db, tenant.id, "1001")).toBe("already_linked");
      expect(await linkTelegramChat(db, tenant.id, "2002")).toBe("already_linked");
      expect((await findTenantByChatId(db, "1001"))?.id).toBe(tenant.id);
    });

    test("a WhatsApp or archived tenant is not_linkable (the UPDATE itself checks)", async () => {
      t ??= await createTestContext({ driver });
      const db = t.ctx.db;
      const wa = await createTenant(t.ctx, { name: "WA", phone: "+18015550071", channel: "whatsapp" });
      expect(await linkTelegramChat(db, wa.id, "71")).toBe("not_linkable");
      expect((await requireTenant(db, wa.id)).telegram_chat_id).toBeNull();
    });

    test("a chat linked elsewhere is chat_in_use", async () => {
      const a = await newTenant("+18015550001");
      const b = await newTenant("+18015550002");
      const db = t!.ctx.db;
      expect(await linkTelegramChat(db, a.id, "-100123")).toBe("linked");
      expect(await linkTelegramChat(db, b.id, "-100123")).toBe("chat_in_use");
      expect((await requireTenant(db, b.id)).telegram_chat_id).toBeNull();
    });

    test("two racing links to one tenant: exactly one wins", async () => {
      const tenant = await newTenant("+18015550001");
      const db = t!.ctx.db;
      const outcomes = await Promise.all([
        linkTelegramChat(db, tenant.id, "111"),
        linkTelegramChat(db, tenant.id, "222"),
        linkTelegramChat(db, tenant.id, "333"),
      ]);
      expect(outcomes.filter((o) => o === "linked")).toHaveLength(1);
      expect(outcomes.filter((o) => o === "already_linked")).toHaveLength(2);
      const winner = ["111", "222", "333"][outcomes.indexOf("linked")];
      expect((await requireTenant(db, tenant.id)).telegram_chat_id).toBe(winner!);
    });

    test("two tenants racing for one chat: exactly one wins", async () => {
      const a = await newTenant("+18015550001");
      const b = await newTenant("+18015550002");
      const db = t!.ctx.db;
      const outcomes = await Promise.all([linkTelegramChat(db, a.id, "777"), linkTelegramChat(db, b.id, "777")]);
      expect(outcomes.sort()).toEqual(["chat_in_use", "linked"]);
    });

    test("operator override and unlink", async () => {
      const a = await newTenant("+18015550001");
      const b = await newTenant("+18015550002");
      const db = t!.ctx.db;
      await linkTelegramChat(db, a.id, "10");
      await setTelegramChat(db, a.id, "20"); // relink is an operator action
      expect((await requireTenant(db, a.id)).telegram_chat_id).toBe("20");
      let err: unknown;
      try {
        await setTelegramChat(db, b.id, "20");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as Error).message).toContain(a.id);
      expect(await unlinkTelegramChat(db, a.id)).toBe(true);
      expect(await unlinkTelegramChat(db, a.id)).toBe(false);
      expect(await linkTelegramChat(db, b.id, "20")).toBe("linked");
      await expect(linkTelegramChat(db, a.id, "twenty")).rejects.toThrow(ValidationError);
    });
  });
}
