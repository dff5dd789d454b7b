import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setCredentials } from "../../src/credentials/index.ts";
import { checkToolsHealth } from "../../src/mcp/index.ts";
import { updateTenant } from "../../src/tenants/index.ts";
import type { FakeSendGrid } from "../fakes/sendgrid.ts";
import { startFakeSendGrid } from "../fakes/sendgrid.ts";
import type { ToolsFixture } from "./setup.ts";
import { toolsFixture } from "./setup.ts";

const KEY_A = "SG.tenant-a-secret-key-0123456789";
const KEY_B = "SG.tenant-b-secret-key-9876543210";

describe("send_email", () => {
  let sendgrid: FakeSendGrid;
  let f: ToolsFixture;
  let token: string;
  beforeAll(() => {
    sendgrid = startFakeSendGrid({ apiKeys: [KEY_A, KEY_B] });
  });
  afterAll(async () => {
    await sendgrid.stop();
  });
  beforeEach(async () => {
    sendgrid.requests.length = 0;
    sendgrid.sent.length = 0;
    sendgrid.failWith(null);
    f = await toolsFixture({ env: { SENDGRID_API_BASE: sendgrid.url } });
    token = f.tools.issueToken(f.a.id, "run-email").token;
  });
  afterEach(async () => {
    await f.cleanup();
  });

  const mail = { to: "supplier@example.com", subject: "Order for Friday", text: "Two sacks of flour, please." };

  function everythingWritten(): string {
    const dir = join(f.ctx.config.TENANTS_DIR, f.a.id, "timeline");
    const timeline = readdirSync(dir)
      .map((n) => readFileSync(join(dir, n), "utf8"))
      .join("\n");
    return `${JSON.stringify(f.logs)}\n${timeline}`;
  }

  test("sends server-side with the token's tenant's key; the key is in no result, log or timeline", async () => {
    await setCredentials(f.ctx, f.a.id, { SENDGRID_API_KEY: KEY_A, SENDGRID_FROM_EMAIL: "orders@alpine.example" });
    await setCredentials(f.ctx, f.b.id, { SENDGRID_API_KEY: KEY_B });
    const result = await f.client.call(token, "send_email", { ...mail, cc: ["owner@alpine.example"] });
    expect(result.isError).toBe(false);
    expect(result.text).toContain("supplier@example.com");
    expect(sendgrid.requests).toHaveLength(1);
    expect(sendgrid.requests[0]?.authorization).toBe(`Bearer ${KEY_A}`);
    expect(sendgrid.sent[0]).toMatchObject({
      from: "orders@alpine.example",
      to: ["supplier@example.com"],
      subject: "Order for Friday",
    });
    expect(sendgrid.sent[0]?.raw.from).toEqual({ email: "orders@alpine.example", name: "Alpine Bakery" });
    expect(result.text).not.toContain(KEY_A);
    expect(everythingWritten()).not.toContain(KEY_A);
    expect(everythingWritten()).toContain("Agent tool send_email: sent email to supplier@example.com");
  });

  test("falls back to the business profile's email; html-only and lists of recipients work", async () => {
    await setCredentials(f.ctx, f.a.id, { SENDGRID_API_KEY: KEY_A });
    await updateTenant(f.ctx, f.a.id, { business: { email: "hello@alpine.example" } });
    const result = await f.client.call(token, "send_email", {
      to: ["a@example.com", "b@example.com"],
      subject: "Hi",
      html: "<p>Hi</p>",
    });
    expect(result.isError).toBe(false);
    expect(sendgrid.sent[0]).toMatchObject({ from: "hello@alpine.example", to: ["a@example.com", "b@example.com"] });
    expect(sendgrid.sent[0]?.content).toEqual([{ type: "text/html", value: "<p>Hi</p>" }]);
  });

  test("a missing key tells the agent to ask for it; nothing is sent", async () => {
    const result = await f.client.call(token, "send_email", mail);
    expect(result.isError).toBe(true);
    expect(result.text).toContain("(SENDGRID_API_KEY) is missing");
    expect(result.text).toContain("operator");
    expect(sendgrid.requests).toHaveLength(0);
  });

  test("no sender address is a clear error", async () => {
    await setCredentials(f.ctx, f.a.id, { SENDGRID_API_KEY: KEY_A });
    const result = await f.client.call(token, "send_email", mail);
    expect(result.isError).toBe(true);
    expect(result.text).toContain("SENDGRID_FROM_EMAIL");
    expect(sendgrid.requests).toHaveLength(0);
  });

  test("bad input is refused before anything is sent", async () => {
    await setCredentials(f.ctx, f.a.id, { SENDGRID_API_KEY: KEY_A, SENDGRID_FROM_EMAIL: "orders@alpine.example" });
    for (const args of [
      { ...mail, to: "nobody" },
      { to: "x@example.com", subject: "no body" },
      { ...mail, subject: "" },
      { ...mail, to: [] },
    ]) {
      const result = await f.client.call(token, "send_email", args);
      expect({ args, isError: result.isError }).toEqual({ args, isError: true });
    }
    expect(sendgrid.requests).toHaveLength(0);
  });

  test("SendGrid refusing the key is explained without the key", async () => {
    const wrong = "SG.revoked-key-abcdefghijklmnop";
    await setCredentials(f.ctx, f.a.id, { SENDGRID_API_KEY: wrong, SENDGRID_FROM_EMAIL: "orders@alpine.example" });
    const result = await f.client.call(token, "send_email", mail);
    expect(result.isError).toBe(true);
    expect(result.text).toContain("HTTP 401");
    expect(result.text).not.toContain(wrong);
    expect(everythingWritten()).not.toContain(wrong);
  });

  test("a SendGrid error echoing the key is scrubbed; 5xx says try later", async () => {
    await setCredentials(f.ctx, f.a.id, { SENDGRID_API_KEY: KEY_A, SENDGRID_FROM_EMAIL: "orders@alpine.example" });
    sendgrid.failWith({ status: 400, body: { errors: [{ field: "from", message: `bad sender for key ${KEY_A}` }] } });
    const echoed = await f.client.call(token, "send_email", mail);
    expect(echoed.isError).toBe(true);
    expect(echoed.text).toContain("from: bad sender");
    expect(echoed.text).not.toContain(KEY_A);
    sendgrid.failWith({ status: 503, body: {} });
    const down = await f.client.call(token, "send_email", mail);
    expect(down.text).toContain("Try again later");
    expect(everythingWritten()).not.toContain(KEY_A);
  });

  test("checkToolsHealth: not configured, ok, failing", async () => {
    expect(await checkToolsHealth(f.ctx, f.a.id)).toEqual([
      expect.objectContaining({ tool: "send_email", status: "not_configured" }),
    ]);
    await setCredentials(f.ctx, f.a.id, { SENDGRID_API_KEY: KEY_A });
    expect((await checkToolsHealth(f.ctx, f.a.id))[0]?.status).toBe("not_configured");
    await setCredentials(f.ctx, f.a.id, { SENDGRID_FROM_EMAIL: "orders@alpine.example" });
    const ok = await checkToolsHealth(f.ctx, f.a.id);
    expect(ok[0]).toMatchObject({ status: "ok" });
    expect(sendgrid.requests.at(-1)).toMatchObject({
      method: "GET",
      path: "/v3/scopes",
      authorization: `Bearer ${KEY_A}`,
    });
    await setCredentials(f.ctx, f.a.id, { SENDGRID_API_KEY: "SG.wrong-key-for-health-check" });
    const failing = await checkToolsHealth(f.ctx, f.a.id);
    expect(failing[0]).toMatchObject({ status: "failing" });
    expect(JSON.stringify(failing)).not.toContain("SG.wrong-key");
    expect(sendgrid.sent).toHaveLength(0);
  });
});
