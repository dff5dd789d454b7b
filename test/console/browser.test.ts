// The console in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against a real server
// process with the loopback fake Telegram: sign-in, badges, a tenant's credential, validate, pause → the customer
// gets the paused reply through the real webhook path, cancel a task, CSRF, the cookie's flags, sign-out + back.
// Screenshots of each page go to $TMPDIR/proxystaff-console-screenshots (not committed).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { PAUSED_REPLY } from "../../src/conversation/chat-commands.ts";
import type { Fakes } from "../e2e/stack.ts";
import { StackClient, spawnServer, stackEnv, startFakes } from "../e2e/stack.ts";
import { eventually, freePort, TEST_ADMIN_KEY } from "../helpers/index.ts";

const CHROMIUM = "/usr/bin/chromium";
const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.warn(`skipped (console browser tests): ${CHROMIUM} is missing (apt-get install chromium)`);
const SHOTS = join(tmpdir(), "proxystaff-console-screenshots");
const SECRET = "SG.browser-test-secret-value-9137";

describe.skipIf(!HAS_CHROMIUM)("the console in headless Chromium", () => {
  let fakes: Fakes;
  let stack: StackClient;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  const ids: Record<"alpine" | "birch" | "dune", string> = { alpine: "", birch: "", dune: "" };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    fakes = startFakes();
    const port = await freePort();
    // Validate's SendGrid check goes to a closed loopback port, never the internet.
    const env = stackEnv(fakes, port, { SENDGRID_API_BASE: "http://127.0.0.1:9" });
    stack = new StackClient(await spawnServer({ env }), fakes);
    url = stack.server.url;
    ids.alpine = await stack.createTenant({ name: "Alpine Bakery", phone: "+18015550101" });
    ids.birch = await stack.createTenant({ name: "Birch Dental", phone: "+18015550102" });
    ids.dune = await stack.createTenant({ name: "Dune Surf", phone: "+18015550103", channel: "whatsapp" });
    await stack.sql(
      "UPDATE tenants SET telegram_chat_id = '700101', onboarding_status = 'LIVE' WHERE id = ?",
      ids.alpine,
    );
    await stack.sql("UPDATE tenants SET onboarding_status = 'PAUSED' WHERE id = ?", ids.dune);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    context = await browser.newContext();
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.server.cleanup();
    await fakes?.stop();
    console.log(`console screenshots: ${SHOTS}`);
  }, 30_000);

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const row = (id: string) => page.locator(`tr[data-tenant="${id}"]`);

  test("a wrong key is refused; the right key lands on the overview", async () => {
    await page.goto(`${url}/console`);
    expect(page.url()).toBe(`${url}/console/sign-in`);
    await shot("sign-in");
    await page.fill('input[name="key"]', "definitely-not-the-admin-key");
    await page.click('button[type="submit"]');
    expect(await page.textContent('[role="alert"]')).toContain("That is not the admin key.");
    await page.fill('input[name="key"]', TEST_ADMIN_KEY);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${url}/console`);
    expect(await page.textContent("h1")).toContain("Tenants");
    await shot("overview");
  });

  test("three tenants in different states show the right badges", async () => {
    expect(await row(ids.alpine).locator(".badge").allTextContents()).toEqual(["live", "active", "linked"]);
    expect(await row(ids.birch).locator(".badge").allTextContents()).toEqual([
      "discovery",
      "active",
      "unlinked",
      "unlinked",
    ]);
    expect(await row(ids.dune).locator(".badge").allTextContents()).toEqual(["paused", "active", "linked"]);
    await page.check('input[name="attention"]');
    await page.click("form.search button");
    await page.waitForURL(/attention=1/);
    expect(await page.locator("tr[data-tenant]").count()).toBe(1);
    expect(await row(ids.birch).count()).toBe(1);
  });

  test("the session cookie: HttpOnly, SameSite=Strict, not Secure over http, about 12 h", async () => {
    const cookie = (await context.cookies()).find((c) => c.name === "proxystaff_console");
    expect(cookie).toBeDefined();
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe("Strict");
    expect(cookie?.secure).toBe(false);
    const hours = ((cookie?.expires ?? 0) * 1000 - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);
  });

  test("open a tenant, set a credential (never shown back), run validate", async () => {
    await page.goto(`${url}/console`);
    await row(ids.alpine).locator("a").first().click();
    await page.waitForURL(`${url}/console/tenants/${ids.alpine}`);
    await page.fill('#credentials input[name="key"]', "SENDGRID_API_KEY");
    await page.fill('#credentials input[name="value"]', SECRET);
    await page.click('#credentials button:has-text("Set or replace")');
    await page.waitForURL(/done=credential_set/);
    expect(await page.locator("#credentials").textContent()).toContain("SENDGRID_API_KEY");
    expect(await page.content()).not.toContain(SECRET);
    await page.click('button:has-text("Run validate")');
    await page.waitForSelector("#validation");
    expect(await page.locator("#validation tr").count()).toBeGreaterThan(3);
    expect(await page.content()).not.toContain(SECRET);
    await shot("tenant-validated");
  }, 60_000);

  test("pause it (confirmed) → a customer message gets the paused reply through the webhook", async () => {
    await page.goto(`${url}/console/tenants/${ids.alpine}`);
    await page.click('#status button:has-text("Pause")'); // without the checkbox: the confirmation page
    expect(await page.textContent("h1")).toContain("Pause Alpine Bakery?");
    await shot("confirm-pause");
    await page.check('input[name="confirm"]');
    await page.click('button:has-text("Pause")');
    await page.waitForURL(/done=paused/);
    expect(await page.locator("h1 .badge").first().textContent()).toBe("paused");
    await stack.telegramText(700101, "Are you open on Sunday?");
    await eventually(() => stack.telegramReplies(700101).find((text) => text === PAUSED_REPLY), "the paused reply");
    await page.reload();
    expect(await page.locator("#conversation").textContent()).toContain("Are you open on Sunday?");
    expect(await page.locator("#timeline").textContent()).toContain("paused, not read: Are you open on Sunday?");
    await shot("tenant-paused");
  }, 60_000);

  test("cancel a task", async () => {
    const made = await stack.admin("POST", `/admin/tenants/${ids.alpine}/tasks`, {
      prompt: "Send the weekly bookings summary",
      cron: "0 9 * * 1",
    });
    const task = (await made.json()) as { id: string };
    await page.goto(`${url}/console/tenants/${ids.alpine}#tasks`);
    const taskRow = page.locator(`tr[data-task="${task.id}"]`);
    await taskRow.locator('input[name="confirm"]').check();
    await taskRow.locator('button:has-text("Cancel")').click();
    await page.waitForURL(/done=task_cancelled/);
    expect(await page.locator(`tr[data-task="${task.id}"] .badge`).textContent()).toBe("cancelled");
  });

  test("CSRF: a POST with the session cookie and the right Origin but no token is 403", async () => {
    const res = await context.request.post(`${url}/console/tenants/${ids.alpine}/resume`, {
      form: { onboarding_status: "LIVE" },
      headers: { origin: url },
      maxRedirects: 0,
    });
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain("csrf_token_invalid");
    const tenant = (await (await stack.admin("GET", `/admin/tenants/${ids.alpine}`)).json()) as {
      onboarding_status: string;
    };
    expect(tenant.onboarding_status).toBe("PAUSED");
  });

  test("usage and failures pages render", async () => {
    await page.goto(`${url}/console/usage`);
    expect(await page.textContent("h1")).toContain("Model usage");
    await shot("usage");
    await page.goto(`${url}/console/failures`);
    expect(await page.textContent("h1")).toContain("Failed agent runs");
    await shot("failures");
    await page.setViewportSize({ width: 390, height: 844 }); // a phone
    await page.goto(`${url}/console`);
    expect(await row(ids.alpine).isVisible()).toBe(true);
    await shot("overview-phone");
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  test("sign out, then the back button shows the sign-in page", async () => {
    await page.goto(`${url}/console`);
    await page.click('button:has-text("Sign out")');
    await page.waitForURL(`${url}/console/sign-in`);
    await page.goBack();
    await page.waitForLoadState();
    expect(page.url()).toBe(`${url}/console/sign-in`);
    expect(await page.locator('input[name="key"]').count()).toBe(1);
    expect(await page.content()).not.toContain("Alpine Bakery");
  });
});
