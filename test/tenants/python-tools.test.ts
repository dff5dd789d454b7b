import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnvFile } from "../../src/credentials/environment.ts";
import { TEMPLATE_EXECUTION_FILES, TEMPLATE_TOOLS } from "../../src/tenants/index.ts";
import type { FakeSendGrid } from "../fakes/sendgrid.ts";
import { startFakeSendGrid } from "../fakes/sendgrid.ts";
import { runProcess } from "../helpers/index.ts";

const python = Bun.which("python3");
const KEY = "SG.fake-key-for-tests-abcdef";

/** A workspace-shaped temp folder with the template's execution/ scripts. */
function makeWorkspace(): string {
  const dir = mkdtempSync(join(tmpdir(), "proxystaff-tools-"));
  for (const [name, content] of Object.entries(TEMPLATE_EXECUTION_FILES)) {
    Bun.write(join(dir, "execution", name), content);
  }
  return dir;
}

async function run(cwd: string, args: string[], env: Record<string, string> = {}, stdin?: string) {
  const { stdout, stderr, code } = await runProcess([python!, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdin,
  });
  return { stdout: stdout.trim(), stderr: stderr.trim(), code };
}

describe.skipIf(!python)("execution/ python tools (needs python3)", () => {
  let dir: string;
  let fake: FakeSendGrid;
  beforeAll(() => {
    dir = makeWorkspace();
    fake = startFakeSendGrid({ apiKeys: [KEY] });
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.sent.length = 0;
    fake.failWith(null);
    writeFileSync(join(dir, ".env"), "# empty\n");
  });

  test("load_env_from_cwd reads the workspace .env without overriding what is set", async () => {
    writeFileSync(
      join(dir, ".env"),
      [
        "# comment",
        "PLAIN=plain value  # trailing comment",
        'QUOTED="line1\\nline2 \\"q\\" # not a comment"',
        "SINGLE='lit\\eral # kept'",
        "export EXPORTED=yes",
        "ALREADY_SET=from-file",
        "not a line",
        "",
      ].join("\n"),
    );
    const script = [
      "import json, os, sys",
      "sys.path.insert(0, 'execution')",
      "from env_loader import load_env_from_cwd",
      "loaded = load_env_from_cwd()",
      "print(json.dumps({'loaded': sorted(loaded), 'env': {k: os.environ.get(k) for k in ['PLAIN','QUOTED','SINGLE','EXPORTED','ALREADY_SET']}}))",
    ].join("\n");
    const result = await run(dir, ["-c", script], { ALREADY_SET: "from-vault" });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      loaded: ["EXPORTED", "PLAIN", "QUOTED", "SINGLE"],
      env: {
        PLAIN: "plain value",
        QUOTED: 'line1\nline2 "q" # not a comment',
        SINGLE: "lit\\eral # kept",
        EXPORTED: "yes",
        ALREADY_SET: "from-vault",
      },
    });
  });

  test("the server's .env parser and env_loader.py agree", async () => {
    const text = [
      "A=1",
      "  B = spaced value   ",
      'C="esc \\t tab \\\\ backslash" trailing',
      "D='single \\n literal'",
      "E=",
      "export F=exported # note",
      "G=x#not-a-comment",
      'H="unterminated',
      "bad-key=1",
      "=novalue",
      "I=dup1",
      "I=dup2",
      "J=a=b=c",
    ].join("\r\n");
    writeFileSync(join(dir, "sample.env"), text);
    const script =
      "import json,sys; sys.path.insert(0,'execution'); from env_loader import parse_env; print(json.dumps(parse_env(open('sample.env', newline='').read())))";
    const result = await run(dir, ["-c", script]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(parseEnvFile(text));
    expect(parseEnvFile(text)).toMatchObject({
      B: "spaced value",
      E: "",
      F: "exported",
      G: "x#not-a-comment",
      I: "dup2",
      J: "a=b=c",
    });
  });

  test("a missing .env is fine; env_loader --health-check lists key names only", async () => {
    rmSync(join(dir, ".env"));
    const none = await run(dir, [
      "-c",
      "import sys; sys.path.insert(0,'execution'); from env_loader import load_env_from_cwd; print(load_env_from_cwd())",
    ]);
    expect(none.stdout).toBe("{}");
    writeFileSync(join(dir, ".env"), "SECRET_THING=hunter2-value\n");
    const check = await run(dir, ["execution/env_loader.py", "--health-check"]);
    expect(check).toMatchObject({ code: 0, stdout: "ok: .env readable (1 key: SECRET_THING)" });
    expect(check.stdout).not.toContain("hunter2");
  });

  test("send_email.py sends through SendGrid v3 with the key and sender from the environment", async () => {
    writeFileSync(join(dir, ".env"), `SENDGRID_FROM_EMAIL=owner@bakery.test\nSENDGRID_API_KEY=${KEY}\n`);
    const result = await run(
      dir,
      [
        "execution/send_email.py",
        "--to",
        "a@x.test,b@y.test",
        "--subject",
        "Today's bread",
        "--text",
        "Rye and sourdough.",
        "--html",
        "<p>Rye</p>",
      ],
      { SENDGRID_API_BASE: fake.url },
    );
    expect(result).toMatchObject({
      code: 0,
      stdout: 'sent: to a@x.test, b@y.test, subject "Today\'s bread" (message id fake-1)',
    });
    expect(fake.requests[0]).toMatchObject({ method: "POST", path: "/v3/mail/send", authorization: `Bearer ${KEY}` });
    expect(fake.sent[0]).toMatchObject({
      from: "owner@bakery.test",
      to: ["a@x.test", "b@y.test"],
      subject: "Today's bread",
      content: [
        { type: "text/plain", value: "Rye and sourdough." },
        { type: "text/html", value: "<p>Rye</p>" },
      ],
    });
    expect(result.stdout + result.stderr).not.toContain(KEY);
  });

  test("send_email.py: body from stdin, --from override; environment wins over .env", async () => {
    writeFileSync(join(dir, ".env"), "SENDGRID_API_KEY=SG.wrong-key-in-file\n");
    const result = await run(
      dir,
      ["execution/send_email.py", "--to", "c@z.test", "--subject", "Hi", "--text", "-", "--from", "me@shop.test"],
      { SENDGRID_API_BASE: fake.url, SENDGRID_API_KEY: KEY },
      "from stdin\n",
    );
    expect(result.code).toBe(0);
    expect(fake.sent[0]).toMatchObject({
      from: "me@shop.test",
      content: [{ type: "text/plain", value: "from stdin\n" }],
    });
  });

  test("send_email.py failures are one clear line, non-zero, without the key", async () => {
    const base = { SENDGRID_API_BASE: fake.url };
    const noKey = await run(
      dir,
      ["execution/send_email.py", "--to", "a@x.test", "--subject", "s", "--text", "t"],
      base,
    );
    expect(noKey.code).toBe(1);
    expect(noKey.stdout).toBe(
      "failed: SENDGRID_API_KEY is not in this environment (the platform keeps it server-side): send email with the mcp__proxystaff__send_email tool",
    );
    const noSender = await run(dir, ["execution/send_email.py", "--to", "a@x.test", "--subject", "s", "--text", "t"], {
      ...base,
      SENDGRID_API_KEY: KEY,
    });
    expect(noSender).toMatchObject({ code: 2, stdout: "failed: no sender: set SENDGRID_FROM_EMAIL or pass --from" });
    const usage = await run(dir, ["execution/send_email.py", "--subject", "s"], base);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--to and --subject are required");
    fake.failWith({ status: 400, body: { errors: [{ message: `bad request for ${KEY}` }] } });
    const rejected = await run(
      dir,
      ["execution/send_email.py", "--to", "a@x.test", "--subject", "s", "--text", "t", "--from", "me@shop.test"],
      { ...base, SENDGRID_API_KEY: KEY },
    );
    expect(rejected.code).toBe(1);
    expect(rejected.stdout).toBe("failed: SendGrid answered HTTP 400: bad request for [redacted]");
    expect(fake.sent).toHaveLength(0);
  });

  test("every template tool is in execution/ and answers --health-check with one line, no traceback", async () => {
    for (const tool of TEMPLATE_TOOLS) {
      expect(Object.keys(TEMPLATE_EXECUTION_FILES)).toContain(tool.script);
      const result = await run(dir, [`execution/${tool.script}`, "--health-check"], { SENDGRID_API_BASE: fake.url });
      expect([0, 1]).toContain(result.code);
      expect(result.stdout).toMatch(/^(ok|failed): [^\n]+$/);
      expect(result.stderr).not.toContain("Traceback");
    }
  });

  describe("send_email.py --health-check", () => {
    test("ok: key set and accepted, API reachable; sends nothing", async () => {
      const result = await run(dir, ["execution/send_email.py", "--health-check"], {
        SENDGRID_API_BASE: fake.url,
        SENDGRID_API_KEY: KEY,
        SENDGRID_FROM_EMAIL: "o@b.test",
      });
      expect(result).toMatchObject({ code: 0, stdout: "ok: SendGrid reachable, key accepted; sender o@b.test" });
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /v3/scopes"]);
      expect(fake.sent).toHaveLength(0);
    });

    test("no key (as in agent runs and platform health checks): ok, email goes through the server-side MCP tool", async () => {
      const missing = await run(dir, ["execution/send_email.py", "--health-check"], { SENDGRID_API_BASE: fake.url });
      expect(missing.code).toBe(0);
      expect(missing.stdout).toStartWith(
        "ok: email is sent server-side by the agent's mcp__proxystaff__send_email tool",
      );
      expect(missing.stdout).not.toContain("\n");
      expect(fake.requests).toHaveLength(0);
    });

    test("failed: rejected key / unreachable API / missing mail.send", async () => {
      const wrong = await run(dir, ["execution/send_email.py", "--health-check"], {
        SENDGRID_API_BASE: fake.url,
        SENDGRID_API_KEY: "SG.not-the-right-one",
      });
      expect(wrong).toMatchObject({ code: 1, stdout: "failed: SendGrid rejected SENDGRID_API_KEY (HTTP 401)" });
      const closed = startFakeSendGrid();
      const closedUrl = closed.url;
      await closed.stop();
      const down = await run(dir, ["execution/send_email.py", "--health-check"], {
        SENDGRID_API_BASE: closedUrl,
        SENDGRID_API_KEY: KEY,
      });
      expect(down.code).toBe(1);
      expect(down.stdout).toStartWith(`failed: cannot reach SendGrid at ${closedUrl}`);
      expect(down.stdout).not.toContain("\n");
      const limited = startFakeSendGrid({ apiKeys: [KEY], scopes: ["scopes.read"] });
      try {
        const scoped = await run(dir, ["execution/send_email.py", "--health-check"], {
          SENDGRID_API_BASE: limited.url,
          SENDGRID_API_KEY: KEY,
        });
        expect(scoped).toMatchObject({
          code: 1,
          stdout: "failed: SENDGRID_API_KEY works but lacks the mail.send permission",
        });
      } finally {
        await limited.stop();
      }
    });
  });
});
