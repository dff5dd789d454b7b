// `npm run build` → dist/proxystaff, then the binary alone in an empty folder: it creates and
// migrates its database and answers /health (the migrations travel inside it). Runs in CI.

import { Database } from "bun:sqlite";
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { embeddedMigrations } from "../src/db/migrations.gen.ts";
import { freePort, queryDatabase, REPO_ROOT, skipWithoutSqld, spawnServer, startSqld } from "./helpers/index.ts";

// Building takes a few seconds on a slow machine.
setDefaultTimeout(120_000);

const built = join(REPO_ROOT, "dist/proxystaff");
let build: { code: number; stderr: string } | undefined;
/** `npm run build`, once per test file (both tests run the binary it makes). */
function buildOnce(): { code: number; stderr: string } {
  if (!build) {
    const r = Bun.spawnSync([process.execPath, "scripts/build.ts"], { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe" });
    build = { code: r.exitCode, stderr: r.stderr.toString() };
  }
  return build;
}

describe("the compiled binary", () => {
  test("npm run build makes dist/proxystaff; alone in an empty folder it migrates a fresh database and serves /health", async () => {
    expect(buildOnce()).toEqual({ code: 0, stderr: expect.any(String) });
    expect(statSync(built).mode & 0o111).not.toBe(0);

    const dir = mkdtempSync(join(tmpdir(), "ps-binary-"));
    try {
      const binary = join(dir, "proxystaff");
      copyFileSync(built, binary);
      expect(readdirSync(dir)).toEqual(["proxystaff"]);
      const run = (args: string[]) => {
        const r = Bun.spawnSync([binary, ...args], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? "" },
          stdout: "pipe",
          stderr: "pipe",
        });
        return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
      };
      expect(run(["--version"])).toEqual({ code: 0, out: `${pkg.version}\n`, err: "" });
      const help = run(["--help"]);
      expect(help.code).toBe(0);
      expect(help.out).toContain("serve");
      expect(help.out).toContain("migrate");
      expect(run(["migrate", "--help"]).out).toStartWith("Usage: proxystaff migrate");
      expect(run(["no-such-command"]).code).toBe(2);
      expect(readdirSync(dir)).toEqual(["proxystaff"]); // help and version touch nothing

      // A remote DATABASE_URL goes through the pure-JS libSQL web client, which the binary carries
      // (the native client would fail here with "Cannot find module"): nothing listens, so it
      // fails to connect, cleanly.
      const remote = Bun.spawnSync([binary, "migrate"], {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? "",
          DATABASE_URL: `http://127.0.0.1:${await freePort()}`,
          DATA_DIR: join(dir, "remote-data"),
        },
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(remote.exitCode).toBe(1);
      expect(remote.stderr.toString()).toMatch(/ECONNREFUSED|Unable to connect/);
      expect(remote.stderr.toString()).not.toContain("Cannot find module");
      rmSync(join(dir, "remote-data"), { recursive: true, force: true });

      const port = await freePort();
      // No DATA_DIR, TENANTS_DIR or keys: the defaults, relative to the folder it runs in. The
      // Claude Code CLI is a separate program (the Docker image installs it); here it is the
      // repository's copy, named by AGENT_COMMAND since the folder has no node_modules.
      const server = await spawnServer({
        command: [binary, "serve"],
        dir,
        env: {
          PORT: String(port),
          DATA_DIR: undefined,
          TENANTS_DIR: undefined,
          ADMIN_API_KEY: undefined,
          CREDENTIALS_KEY: undefined,
          AGENT_COMMAND: join(REPO_ROOT, "node_modules/.bin/claude"),
        },
      });
      try {
        expect(server.port).toBe(port);
        const health = await fetch(`http://127.0.0.1:${port}/health`);
        expect(health.status).toBe(200);
        expect(await health.json()).toMatchObject({ status: "ok", db: "ok", version: pkg.version });
        expect(server.stdout()).toContain("Generated ADMIN_API_KEY");
        expect(await server.stop()).toBe(0);
      } finally {
        await server.cleanup();
      }

      const dbPath = join(dir, "data/proxystaff.db");
      expect(existsSync(dbPath)).toBe(true);
      expect(existsSync(join(dir, "data/admin-api-key"))).toBe(true);
      const sqlite = new Database(dbPath, { readonly: true });
      try {
        const applied = sqlite.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number };
        expect(applied.n).toBe(embeddedMigrations.length);
        const tables = (
          sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
        ).map((t) => t.name);
        expect(tables).toEqual(
          expect.arrayContaining(["tenants", "credentials", "messages", "conversation_sessions", "scheduled_tasks"]),
        );
      } finally {
        sqlite.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.skipIf(skipWithoutSqld("the binary against libSQL"))(
    "against a real libSQL server (sqld): migrate, serve, an admin call and /health, nothing in DATA_DIR but keys",
    async () => {
      expect(buildOnce()).toEqual({ code: 0, stderr: expect.any(String) });
      const sqld = await startSqld();
      const dir = mkdtempSync(join(tmpdir(), "ps-binary-libsql-"));
      try {
        const binary = join(dir, "proxystaff");
        copyFileSync(built, binary);
        const migrate = Bun.spawnSync([binary, "migrate"], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? "", DATABASE_URL: sqld.url },
          stdout: "pipe",
          stderr: "pipe",
        });
        expect({ code: migrate.exitCode, stderr: migrate.stderr.toString() }).toEqual({
          code: 0,
          stderr: expect.not.stringMatching(/error|Cannot find module/i), // only the notes of the keys it generated
        });
        const applied = await queryDatabase<{ n: number }>(sqld.url, "SELECT count(*) AS n FROM __drizzle_migrations");
        expect(applied[0]?.n).toBe(embeddedMigrations.length);

        const server = await spawnServer({
          command: [binary, "serve"],
          dir,
          env: { DATABASE_URL: sqld.url, AGENT_COMMAND: join(REPO_ROOT, "node_modules/.bin/claude") },
        });
        try {
          const health = await fetch(`${server.url}/health`);
          expect(health.status).toBe(200);
          expect(await health.json()).toMatchObject({ status: "ok", db: "ok", version: pkg.version });
          const created = await server.adminFetch("/admin/tenants", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name: "Remote Rolls", phone: "+18015550990", channel: "telegram", timezone: "UTC" }),
          });
          expect(created.status).toBe(201);
          const { id } = (await created.json()) as { id: string };
          // The row is on the libSQL server, and the server reads it back from there.
          expect(await queryDatabase(sqld.url, "SELECT name FROM tenants WHERE id = ?", id)).toEqual([
            { name: "Remote Rolls" },
          ]);
          const read = await server.adminFetch(`/admin/tenants/${id}`);
          expect(read.status).toBe(200);
          expect(await read.json()).toMatchObject({ id, name: "Remote Rolls" });
          expect(server.logs().filter((l) => l.level === "error")).toEqual([]);
          expect(await server.stop()).toBe(0);
        } finally {
          await server.cleanup();
        }
        expect(existsSync(join(server.dataDir, "proxystaff.db"))).toBe(false); // no local database beside the remote one
      } finally {
        await sqld.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
