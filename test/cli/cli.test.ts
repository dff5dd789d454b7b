// `proxystaff …` as a user runs it: `bun src/main.ts …` in a subprocess, in an empty folder.
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { commands } from "../../src/cli/commands.ts";
import { REPO_ROOT, runProcess, TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY } from "../helpers/index.ts";

// These tests start real processes; give them room even when run alone with plain `bun test`.
setDefaultTimeout(30_000);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ps-cli-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `proxystaff <args>` from source with a minimal environment in the temp folder. */
function cli(args: string[], env: Record<string, string> = {}) {
  return runProcess([process.execPath, join(REPO_ROOT, "src/main.ts"), ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", HOME: dir, ...env },
  });
}

describe("proxystaff", () => {
  test("--help lists every registered command, exit 0", async () => {
    for (const flag of ["--help", "-h", "help"]) {
      const r = await cli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Usage: proxystaff <command>");
      for (const c of commands) expect(r.stdout).toContain(`  ${c.name} `);
    }
  });

  test("--version prints the package version", async () => {
    for (const flag of ["--version", "-v"]) {
      const r = await cli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  });

  test("no command: the help, exit 2", async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("Usage: proxystaff <command>");
  });

  test("an unknown command: says so, prints the help, exit 2, touches nothing", async () => {
    const r = await cli(["frobnicate", "--now"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown command: frobnicate");
    expect(r.stderr).toContain("Usage: proxystaff <command>");
    expect(existsSync(join(dir, "data"))).toBe(false);
  });

  test("`<command> --help` for every registered command: its usage, exit 0, no database touched", async () => {
    expect(commands.map((c) => c.name)).toEqual(expect.arrayContaining(["serve", "migrate"]));
    const results: [(typeof commands)[number], Awaited<ReturnType<typeof cli>>][] = [];
    for (let i = 0; i < commands.length; i += 4) {
      const batch = commands.slice(i, i + 4); // a few at a time: each is a whole bun process
      results.push(
        ...(await Promise.all(
          batch.map(async (c) => [c, await cli([c.name, "--help"])] as [typeof c, Awaited<ReturnType<typeof cli>>]),
        )),
      );
    }
    for (const [c, r] of results) {
      expect({ command: c.name, code: r.code }).toEqual({ command: c.name, code: 0 });
      expect(r.stdout.trim()).toBe(c.help.trim());
      expect(r.stdout).toStartWith(`Usage: proxystaff ${c.name}`);
    }
    expect(existsSync(join(dir, "data"))).toBe(false);
  });

  test("a bad option: the error and the command's help on stderr, exit 2", async () => {
    const r = await cli(["migrate", "--bogus"], {
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--bogus");
    expect(r.stderr).toContain("Usage: proxystaff migrate");
  });
});

describe("proxystaff migrate", () => {
  test("creates and migrates a fresh database, then reports it current", async () => {
    const env = { ADMIN_API_KEY: TEST_ADMIN_KEY, CREDENTIALS_KEY: TEST_CREDENTIALS_KEY };
    const first = await cli(["migrate"], env);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(/^Applied \d+ migration\(s\)\.$/);
    expect(existsSync(join(dir, "data/proxystaff.db"))).toBe(true);
    const second = await cli(["migrate"], env);
    expect(second.code).toBe(0);
    expect(second.stdout.trim()).toBe("Database is up to date.");
  });

  test("several at once on a fresh database: all succeed, the migrations are applied once", async () => {
    const env = { ADMIN_API_KEY: TEST_ADMIN_KEY, CREDENTIALS_KEY: TEST_CREDENTIALS_KEY };
    const runs = await Promise.all([1, 2, 3].map(() => cli(["migrate"], env)));
    for (const r of runs) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(runs.filter((r) => r.stdout.startsWith("Applied"))).toHaveLength(1);
  });

  test("a first run without keys generates them and shows the admin key once, on stderr", async () => {
    const r = await cli(["migrate"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Generated ADMIN_API_KEY");
    expect(r.stdout).not.toContain("ADMIN_API_KEY");
    expect(existsSync(join(dir, "data/admin-api-key"))).toBe(true);
    expect((await cli(["migrate"])).stderr).toBe("");
  });

  test("bad configuration: exit 2 with the list", async () => {
    const r = await cli(["migrate"], { DATABASE_URL: "ftp://x", LOG_LEVEL: "loud" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("DATABASE_URL");
    expect(r.stderr).toContain("LOG_LEVEL");
  });
});
