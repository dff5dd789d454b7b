import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { CommandIO } from "../../src/cli/command.ts";
import { googleOauthCommand } from "../../src/cli/credentials.ts";
import { getCredentials } from "../../src/credentials/store.ts";
import { createTenant } from "../../src/tenants/index.ts";
import type { FakeGoogleOAuth } from "../fakes/google-oauth.ts";
import { startFakeGoogleOAuth } from "../fakes/google-oauth.ts";
import { TEST_CREDENTIALS_KEY } from "../helpers/index.ts";
import type { RunbookEnv } from "./runbook-support.ts";
import { runbookEnv } from "./runbook-support.ts";

const CLIENT_ID = "fake-client-id.apps.googleusercontent.com";
const CLIENT_SECRET = "fake-client-secret-123";

let google: FakeGoogleOAuth;
let rb: RunbookEnv;
let id: string;
beforeAll(async () => {
  google = startFakeGoogleOAuth({
    validCodes: ["good-code", "prompted-code-0123"],
    refreshToken: "1//refresh-token-for-acme",
  });
  rb = runbookEnv({
    GOOGLE_TOKEN_URL: google.tokenUrl,
    GOOGLE_CLIENT_ID: CLIENT_ID,
    GOOGLE_CLIENT_SECRET: CLIENT_SECRET,
  });
  const ctx = await rb.context();
  id = (await createTenant(ctx, { name: "Acme", phone: "+18015550111", channel: "telegram" })).id;
  await ctx.database.close();
});
afterAll(async () => {
  await google.stop();
  rb.cleanup();
});

async function storedCredentials(env: Record<string, string> = {}): Promise<Record<string, string>> {
  const ctx = await rb.context(env);
  try {
    return await getCredentials(ctx, id);
  } finally {
    await ctx.database.close();
  }
}

describe("google-oauth", () => {
  test("prints the consent URL, exchanges the code, stores GMAIL_REFRESH_TOKEN", async () => {
    const res = await rb.run("google-oauth", [id, "--code", "good-code"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const url = new URL(res.stdout.split("\n").find((l) => l.startsWith("https://accounts.google.com/")) ?? "");
    expect(url.searchParams.get("client_id")).toBe(CLIENT_ID);
    expect(url.searchParams.get("access_type")).toBe("offline");
    expect(url.searchParams.get("response_type")).toBe("code");
    expect(res.stdout).toContain(`Stored GMAIL_REFRESH_TOKEN in the vault for tenant ${id}`);
    expect(res.stdout).not.toContain("refresh-token-for-acme");
    expect(google.requests.at(-1)?.form).toMatchObject({
      code: "good-code",
      grant_type: "authorization_code",
      client_id: CLIENT_ID,
      redirect_uri: url.searchParams.get("redirect_uri") ?? "",
    });
    expect((await storedCredentials()).GMAIL_REFRESH_TOKEN).toBe("1//refresh-token-for-acme");
  });

  test("a used or wrong code → exit 1 with Google's error, nothing echoed", async () => {
    const res = await rb.run("google-oauth", [id, "good-code"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("invalid_grant");
    expect(res.stderr).not.toContain(CLIENT_SECRET);
  });

  test("no code and no terminal: prints the URL and how to continue, exit 0", async () => {
    const res = await rb.run("google-oauth", [id]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("https://accounts.google.com/o/oauth2/v2/auth?");
    expect(res.stdout).toContain(`proxystaff google-oauth ${id} --code <CODE>`);
  });

  test("not configured → exit 1 naming the variables; unknown tenant → exit 1; no id → exit 2", async () => {
    const res = await rb.run("google-oauth", [id, "--code", "x"], {
      env: { GOOGLE_CLIENT_ID: "", GOOGLE_CLIENT_SECRET: "" },
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET");
    expect((await rb.run("google-oauth", ["00000000-0000-4000-8000-000000000000", "--code", "x"])).code).toBe(1);
    expect((await rb.run("google-oauth", [])).code).toBe(2);
  });

  test("on a terminal it prompts; the whole redirected address is accepted", async () => {
    const ctx = await rb.context();
    const out: string[] = [];
    const io: CommandIO = {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
      env: {},
      isInteractive: true,
      readLine: async () => `http://localhost/?state=${id}&code=prompted-code-0123&scope=gmail`,
    };
    try {
      expect(await googleOauthCommand.run([id], io, ctx)).toBe(0);
    } finally {
      await ctx.database.close();
    }
    expect(google.requests.at(-1)?.form.code).toBe("prompted-code-0123");
    expect(out.join("\n")).toContain("Stored GMAIL_REFRESH_TOKEN");
  });
});

describe("rotate-credentials-key", () => {
  const NEW_KEY = Buffer.alloc(32, 9).toString("base64");

  test("re-encrypts with the new key, then reports them current; without the old key → exit 1", async () => {
    const rotated = await rb.run("rotate-credentials-key", [], {
      env: { CREDENTIALS_KEY: NEW_KEY, CREDENTIALS_KEY_PREVIOUS: TEST_CREDENTIALS_KEY },
    });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain("Rotated: 1, already current: 0, failed: 0.");
    const again = await rb.run("rotate-credentials-key", ["--json"], { env: { CREDENTIALS_KEY: NEW_KEY } });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ rotated: 0, alreadyCurrent: 1, failed: 0 });
    expect((await storedCredentials({ CREDENTIALS_KEY: NEW_KEY })).GMAIL_REFRESH_TOKEN).toBe(
      "1//refresh-token-for-acme",
    );

    const lost = await rb.run("rotate-credentials-key", [], {
      env: { CREDENTIALS_KEY: Buffer.alloc(32, 1).toString("base64") },
    });
    expect(lost.code).toBe(1);
    expect(lost.stdout).toContain("failed: 1");
    expect(lost.stderr).toContain(`tenant ${id} key GMAIL_REFRESH_TOKEN`);
    expect(lost.stderr).not.toContain("refresh-token-for-acme");
  });
});
