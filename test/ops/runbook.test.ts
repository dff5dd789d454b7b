import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getCredentials } from "../../src/credentials/store.ts";
import { parseIntake } from "../../src/ops/intake.ts";
import {
  applyIntake,
  cancelScheduledTask,
  isLeaseHeld,
  listScheduledTasks,
  newLinkCode,
  readMessages,
  readTenant,
  rotateVaultKey,
  setTenantStatus,
  storeIntakeCredentials,
  telegramBotUsername,
} from "../../src/ops/runbook.ts";
import { createTask } from "../../src/scheduler/index.ts";
import type { FakeTelegram } from "../fakes/telegram.ts";
import { startFakeTelegram } from "../fakes/telegram.ts";
import { rejectionOf, useTestContext } from "../helpers/index.ts";

const t = useTestContext();
const intake = (extra: Record<string, unknown> = {}) =>
  parseIntake({
    name: "Acme Plumbing",
    phone: "+18015551234",
    channel: "telegram",
    credentials: { SENDGRID_API_KEY: "SG.key-1234", EMPTY_ONE: "" },
    ...extra,
  });

describe("setup-customer's steps", () => {
  test("applyIntake creates, then finds the tenant unchanged, then updates it (keeping the channel)", async () => {
    const created = await applyIntake(t.ctx, intake());
    expect(created.kind).toBe("created");
    const again = await applyIntake(t.ctx, intake({ name: "Other" }));
    expect(again).toEqual({ kind: "exists", tenant: created.tenant });
    const updated = await applyIntake(t.ctx, intake({ name: "Acme Pipes", channel: "whatsapp" }), { update: true });
    expect(updated).toMatchObject({
      kind: "updated",
      keptChannel: "telegram",
      tenant: { id: created.tenant.id, name: "Acme Pipes", channel: "telegram" },
    });
  });

  test("storeIntakeCredentials stores the non-empty values and names the empty ones", async () => {
    const { tenant } = await applyIntake(t.ctx, intake());
    expect(await storeIntakeCredentials(t.ctx, tenant, intake())).toEqual({
      stored: ["SENDGRID_API_KEY"],
      skipped: ["EMPTY_ONE"],
    });
    expect(await getCredentials(t.ctx, tenant.id)).toEqual({ SENDGRID_API_KEY: "SG.key-1234" });
  });
});

describe("read-tenant, read-messages, set-status", () => {
  test("readTenant returns the whole report; an unknown id is not found", async () => {
    const { tenant } = await applyIntake(t.ctx, intake());
    const report = await readTenant(t.ctx, tenant.id);
    expect(report).toMatchObject({
      tenant: { id: tenant.id },
      link_code: null,
      credentials: [],
      session: null,
      pending_tasks: [],
      last_messages: [],
    });
    expect(Object.keys(report)).toEqual([
      "tenant",
      "workspace",
      "link_code",
      "credentials",
      "session",
      "pending_tasks",
      "last_messages",
    ]);
    expect(isLeaseHeld(report.session, Date.now())).toBe(false);
    expect((await rejectionOf(readTenant(t.ctx, crypto.randomUUID()))).name).toBe("NotFoundError");
    expect((await rejectionOf(readMessages(t.ctx, { tenantId: crypto.randomUUID(), limit: 5 }))).name).toBe(
      "NotFoundError",
    );
    expect(await readMessages(t.ctx, { tenantId: tenant.id, limit: 5 })).toEqual({ messages: [], nextBefore: null });
  });

  test("setTenantStatus returns the tenant before and after", async () => {
    const { tenant } = await applyIntake(t.ctx, intake());
    const { before, after } = await setTenantStatus(t.ctx, tenant.id, "BUILDING");
    expect([before.onboarding_status, after.onboarding_status]).toEqual(["DISCOVERY", "BUILDING"]);
  });

  test("newLinkCode without a bot token: a code, no url", async () => {
    const { tenant } = await applyIntake(t.ctx, intake());
    const made = await newLinkCode(t.ctx, tenant.id);
    expect(made).toMatchObject({ tenant: { id: tenant.id }, botUsername: null, url: null });
    expect(made.code.code.length).toBeGreaterThan(8);
  });
});

describe("tasks and credentials", () => {
  test("listScheduledTasks of one tenant (which must exist); cancelScheduledTask", async () => {
    const { tenant } = await applyIntake(t.ctx, intake());
    const task = await createTask(t.ctx, tenant.id, { prompt: "Weekly specials", cron: "0 10 * * 5" }, "admin");
    expect((await listScheduledTasks(t.ctx, { tenantId: tenant.id })).map((x) => x.id)).toEqual([task.id]);
    expect((await rejectionOf(listScheduledTasks(t.ctx, { tenantId: crypto.randomUUID() }))).name).toBe(
      "NotFoundError",
    );
    expect((await cancelScheduledTask(t.ctx, task.id, { tenantId: tenant.id })).status).toBe("CANCELLED");
  });

  test("rotateVaultKey: nothing to rotate with one key", async () => {
    const { tenant } = await applyIntake(t.ctx, intake());
    await storeIntakeCredentials(t.ctx, tenant, intake());
    expect(await rotateVaultKey(t.ctx)).toMatchObject({ rotated: 0, alreadyCurrent: 1, failed: 0 });
  });
});

describe("telegramBotUsername", () => {
  let telegram: FakeTelegram;
  beforeAll(() => {
    telegram = startFakeTelegram();
  });
  afterAll(async () => {
    await telegram.stop();
  });
  const config = () => ({ TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.url });

  test("no token: null without a request", async () => {
    const before = telegram.calls.length;
    expect(await telegramBotUsername({ TELEGRAM_BOT_TOKEN: undefined, TELEGRAM_API_ROOT: telegram.url })).toBeNull();
    expect(telegram.calls.length).toBe(before);
  });

  test("an error answer or no answer within the time limit: null", async () => {
    telegram.failNext("getMe", "403");
    expect(await telegramBotUsername(config())).toBeNull();
    telegram.failNext("getMe", "hang");
    expect(await telegramBotUsername(config(), { timeoutMs: 100 })).toBeNull();
    expect(await telegramBotUsername(config())).toBe("fake_proxystaff_bot");
  });
});
