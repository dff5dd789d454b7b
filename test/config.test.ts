import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AGENT_AUTH_VARIABLES, CONFIG_VARIABLES, ConfigError, loadConfig, platformSecrets } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { createContext } from "../src/runtime.ts";
import { REPO_ROOT, spawnServer } from "./helpers/index.ts";

// These tests start real processes; give them room even when run alone with plain `bun test`.
setDefaultTimeout(30_000);

const KEY = Buffer.alloc(32, 7).toString("base64");
const ADMIN = "a".repeat(20);
const base = { ADMIN_API_KEY: ADMIN, CREDENTIALS_KEY: KEY };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env, { generateSecrets: false });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig: defaults", () => {
  test("every DESIGN default", () => {
    const c = loadConfig(base, { generateSecrets: false });
    expect(c.PORT).toBe(3000);
    expect(c.HOST).toBe("0.0.0.0");
    expect(c.DATA_DIR).toBe(resolve("./data"));
    expect(c.TENANTS_DIR).toBe(resolve("./tenants"));
    expect(c.DATABASE_URL).toBe(`file:${resolve("./data/proxystaff.db")}`);
    expect(c.CLAUDE_CONFIG_DIR).toBe(resolve("./data/claude"));
    expect(c.AGENT_ARGS).toBe("--allowedTools Bash,Read,Write,Edit,Glob,Grep,mcp__proxystaff");
    expect(c.AGENT_TIMEOUT_MS).toBe(300_000);
    expect(c.AGENT_MAX_CONCURRENCY).toBe(4);
    expect(c.LEASE_TTL_MS).toBe(300_000);
    expect(c.RATE_LIMIT_PER_MINUTE).toBe(60);
    expect(c.AGENT_SANDBOX).toBe("auto");
    expect(c.AGENT_MEMORY_MB).toBe(1024);
    expect(c.AGENT_TMP_MB).toBe(256);
    expect(c.TENANT_DISK_MB).toBe(1024);
    expect(c.DISK_FREE_MIN_MB).toBe(512);
    expect(c.DISK_FREE_MIN_PERCENT).toBe(5);
    expect(c.METRICS_PUBLIC).toBe(false);
    expect(c.LOG_LEVEL).toBe("info");
    expect(c.TELEGRAM_API_ROOT).toBe("https://api.telegram.org");
    expect(c.TELEGRAM_MODE).toBe("off");
    expect(c.CREDENTIALS_KEY_PREVIOUS).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("empty strings count as unset", () => {
    const c = loadConfig({ ...base, PORT: "", PUBLIC_URL: "", LOG_LEVEL: "" }, { generateSecrets: false });
    expect(c.PORT).toBe(3000);
    expect(c.PUBLIC_URL).toBeUndefined();
  });

  test("TELEGRAM_MODE: webhook with PUBLIC_URL, polling without, explicit wins", () => {
    const token = "123456:ABC-def_1";
    expect(loadConfig({ ...base, TELEGRAM_BOT_TOKEN: token }, { generateSecrets: false }).TELEGRAM_MODE).toBe(
      "polling",
    );
    const hooked = loadConfig(
      { ...base, TELEGRAM_BOT_TOKEN: token, PUBLIC_URL: "https://x.example/" },
      { generateSecrets: false },
    );
    expect(hooked.TELEGRAM_MODE).toBe("webhook");
    expect(hooked.PUBLIC_URL).toBe("https://x.example");
    const explicit = loadConfig(
      { ...base, TELEGRAM_BOT_TOKEN: token, PUBLIC_URL: "https://x.example", TELEGRAM_MODE: "polling" },
      { generateSecrets: false },
    );
    expect(explicit.TELEGRAM_MODE).toBe("polling");
  });

  test("parsed values: numbers, booleans, key lists, paths", () => {
    const other = Buffer.alloc(32, 9).toString("base64");
    const c = loadConfig(
      {
        ...base,
        PORT: "8080",
        METRICS_PUBLIC: "1",
        CREDENTIALS_KEY_PREVIOUS: ` ${other} ,${KEY}`,
        DATA_DIR: "/tmp/ps-x",
        AGENT_MEMORY_MB: "512",
      },
      { generateSecrets: false },
    );
    expect(c.PORT).toBe(8080);
    expect(c.METRICS_PUBLIC).toBe(true);
    expect(c.CREDENTIALS_KEY_PREVIOUS).toEqual([other, KEY]);
    expect(c.DATABASE_URL).toBe("file:/tmp/ps-x/proxystaff.db");
    expect(c.AGENT_MEMORY_MB).toBe(512);
  });

  test("agentAuthEnv carries only the CLI's login variables; platformSecrets lists every secret", () => {
    const c = loadConfig(
      {
        ...base,
        ANTHROPIC_API_KEY: "sk-ant-1",
        TWILIO_AUTH_TOKEN: "twilio-secret",
        TELEGRAM_BOT_TOKEN: "1:abc",
        UNRELATED: "x",
      },
      { generateSecrets: false },
    );
    expect(c.agentAuthEnv).toEqual({ ANTHROPIC_API_KEY: "sk-ant-1" });
    expect(platformSecrets(c)).toEqual(expect.arrayContaining([ADMIN, KEY, "twilio-secret", "1:abc"]));
  });
});

describe("loadConfig: bad values", () => {
  test("lists every bad variable at once", () => {
    const problems = problemsOf({ PORT: "abc", CREDENTIALS_KEY: "short", DATABASE_URL: "ftp://x" });
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toContain("PORT: must be a whole number from 0 to 65535");
    expect(problems.join("\n")).toContain("CREDENTIALS_KEY: must be 32 bytes encoded as base64");
    expect(problems.join("\n")).toContain("DATABASE_URL: must start with file:");
  });

  test.each([
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "3.5"],
    ["CREDENTIALS_KEY", Buffer.alloc(31).toString("base64")],
    ["CREDENTIALS_KEY", "not base64 at all!!"],
    ["CREDENTIALS_KEY_PREVIOUS", `${KEY},nope`],
    ["DATABASE_URL", "postgres://x"],
    ["ADMIN_API_KEY", "short"],
    ["PUBLIC_URL", "not a url"],
    ["PUBLIC_URL", "ftp://x.example"],
    ["TELEGRAM_BOT_TOKEN", "no-colon"],
    ["TELEGRAM_WEBHOOK_SECRET", "has spaces"],
    ["TELEGRAM_MODE", "push"],
    ["TWILIO_ACCOUNT_SID", "AC123"],
    ["TWILIO_WHATSAPP_FROM", "14155238886"],
    ["AGENT_TIMEOUT_MS", "0"],
    ["AGENT_MAX_CONCURRENCY", "many"],
    ["LEASE_TTL_MS", "10"],
    ["RATE_LIMIT_PER_MINUTE", "-5"],
    ["AGENT_SANDBOX", "docker"],
    ["AGENT_MEMORY_MB", "lots"],
    ["METRICS_PUBLIC", "yes"],
    ["LOG_LEVEL", "verbose"],
  ])("%s=%s is refused by name", (name, value) => {
    const problems = problemsOf({ ...base, [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith(`${name}: `);
  });

  test("the message never repeats a secret's value", () => {
    const secret = "this-is-a-bad-but-secret-credentials-key";
    const err = (() => {
      try {
        loadConfig({ CREDENTIALS_KEY: secret, TWILIO_ACCOUNT_SID: "ACnope-secret-sid" }, { generateSecrets: false });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toContain("CREDENTIALS_KEY");
    expect(err?.message).not.toContain(secret);
    expect(err?.message).not.toContain("nope-secret");
  });
});

describe("loadConfig: generated secrets", () => {
  test("first load writes both keys (0600) and announces the admin key once; later loads reuse them", () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-config-"));
    try {
      const first = loadConfig({ DATA_DIR: dir });
      const adminFile = join(dir, "admin-api-key");
      const keyFile = join(dir, "credentials-key");
      expect(statSync(adminFile).mode & 0o777).toBe(0o600);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(adminFile, "utf8").trim()).toBe(first.ADMIN_API_KEY);
      expect(Buffer.from(first.CREDENTIALS_KEY, "base64")).toHaveLength(32);
      const announced = first.notices.filter((n) => n.msg.includes(first.ADMIN_API_KEY));
      expect(announced).toHaveLength(1);
      expect(announced[0]?.msg).toContain(adminFile);
      expect(
        first.notices.some((n) => n.level === "warn" && n.msg.includes("Production must set CREDENTIALS_KEY")),
      ).toBe(true);

      const second = loadConfig({ DATA_DIR: dir });
      expect(second.ADMIN_API_KEY).toBe(first.ADMIN_API_KEY);
      expect(second.CREDENTIALS_KEY).toBe(first.CREDENTIALS_KEY);
      expect(second.notices.some((n) => n.msg.includes(second.ADMIN_API_KEY))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("variables win over the files; with CREDENTIALS_KEY set there is no warning", () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-config-"));
    try {
      const c = loadConfig({ DATA_DIR: dir, ...base });
      expect(c.ADMIN_API_KEY).toBe(ADMIN);
      expect(c.notices).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a damaged stored key stops the start with a ConfigError", () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-config-"));
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "credentials-key"), "garbage\n");
      expect(() => loadConfig({ DATA_DIR: dir, ADMIN_API_KEY: ADMIN })).toThrow(ConfigError);
      writeFileSync(join(dir, "admin-api-key"), "tiny\n");
      expect(() => loadConfig({ DATA_DIR: dir, CREDENTIALS_KEY: KEY })).toThrow(/admin-api-key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("DATA_DIR and database file modes", () => {
  const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);
  async function open(dataDir: string): Promise<{ warnings: string[]; close(): Promise<void> }> {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", write: (line) => lines.push(line) });
    const ctx = await createContext(loadConfig({ DATA_DIR: dataDir, CREDENTIALS_KEY: KEY }), { log });
    return { warnings: lines.map((l) => String(JSON.parse(l).msg)), close: () => ctx.database.close() };
  }

  test("a DATA_DIR ProxyStaff creates is 0700; the database and its -wal/-shm are 0600; no warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-modes-"));
    try {
      const dataDir = join(dir, "nested", "data");
      const opened = await open(dataDir);
      try {
        expect(modeOf(dataDir)).toBe("700");
        expect(modeOf(join(dataDir, "admin-api-key"))).toBe("600");
        for (const file of ["proxystaff.db", "proxystaff.db-wal", "proxystaff.db-shm"])
          expect(modeOf(join(dataDir, file))).toBe("600");
        expect(opened.warnings).toEqual([]);
      } finally {
        await opened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an operator's world-readable DATA_DIR and an old 0644 database are kept as they are, with a warning each", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-modes-"));
    try {
      const dataDir = join(dir, "data");
      mkdirSync(dataDir);
      chmodSync(dataDir, 0o755);
      writeFileSync(join(dataDir, "proxystaff.db"), "");
      chmodSync(join(dataDir, "proxystaff.db"), 0o644);
      const opened = await open(dataDir);
      try {
        expect(modeOf(dataDir)).toBe("755");
        expect(modeOf(join(dataDir, "proxystaff.db"))).toBe("644");
        expect(opened.warnings).toContain(`DATA_DIR is open to other local users (mode 755): run chmod 711 ${dataDir}`);
        expect(opened.warnings).toContain(
          `the database file is readable by other users (mode 644): run chmod 600 ${join(dataDir, "proxystaff.db")}*`,
        );
      } finally {
        await opened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the process", () => {
  test("bad config: one message naming every bad variable, exit 2, no stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-config-"));
    try {
      const proc = Bun.spawn([process.execPath, join(REPO_ROOT, "src/main.ts"), "serve"], {
        cwd: dir,
        env: { PATH: process.env.PATH, PORT: "abc", CREDENTIALS_KEY: "x", DATABASE_URL: "ftp://x" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, stdout, stderr] = await Promise.all([
        proc.exited,
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
      ]);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toStartWith("Invalid configuration");
      for (const name of ["PORT", "CREDENTIALS_KEY", "DATABASE_URL"]) expect(stderr).toContain(`  - ${name}: `);
      expect(stderr).not.toMatch(/^\s+at /m);
      expect(stderr).not.toContain("ConfigError");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("first start prints the generated admin key once; the next start reuses it silently", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-config-"));
    const env = { ADMIN_API_KEY: undefined, CREDENTIALS_KEY: undefined };
    try {
      const first = await spawnServer({ dir, env });
      const key = readFileSync(join(first.dataDir, "admin-api-key"), "utf8").trim();
      expect(await first.stop()).toBe(0);
      const shown = first
        .stdout()
        .split("\n")
        .filter((l) => l.includes(key));
      expect(shown).toHaveLength(1);
      expect(shown[0]).toContain("shown only this once");
      expect(first.stdout()).toContain("Production must set CREDENTIALS_KEY");
      expect(statSync(join(first.dataDir, "credentials-key")).mode & 0o777).toBe(0o600);

      const second = await spawnServer({ dir, env });
      try {
        expect((await fetch(`${second.url}/admin/none`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(
          404,
        );
        expect(await second.stop()).toBe(0);
        expect(second.stdout()).not.toContain(key);
        expect(second.stdout()).not.toContain("Generated");
      } finally {
        await second.cleanup();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("docs/operations.md", () => {
  test("its configuration table documents every variable the config reads", () => {
    const doc = readFileSync(join(REPO_ROOT, "docs/operations.md"), "utf8");
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(25);
    for (const name of CONFIG_VARIABLES)
      expect({ name, documented: doc.includes(`| \`${name}\` |`) }).toEqual({ name, documented: true });
    for (const name of AGENT_AUTH_VARIABLES) expect(doc).toContain(`\`${name}\``);
  });
});
