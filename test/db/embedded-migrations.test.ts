// src/db/migrations.gen.ts must be exactly what scripts/embed-migrations.ts renders from drizzle/,
// and hash like drizzle's own folder reader, so a compiled binary migrates the same way.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { renderMigrationsModule } from "../../src/db/embed.ts";
import { migrationMeta } from "../../src/db/migrate.ts";
import { REPO_ROOT } from "../helpers/index.ts";

describe("embedded migrations", () => {
  test("src/db/migrations.gen.ts is current with drizzle/ (else run `npm run db:generate`)", () => {
    const committed = readFileSync(join(REPO_ROOT, "src/db/migrations.gen.ts"), "utf8");
    expect(committed).toBe(renderMigrationsModule(join(REPO_ROOT, "drizzle")));
  });

  test("same statements, timestamps and hashes as drizzle's folder migrator", () => {
    const fromFolder = readMigrationFiles({ migrationsFolder: join(REPO_ROOT, "drizzle") });
    const embedded = migrationMeta();
    expect(embedded).toHaveLength(fromFolder.length);
    expect(embedded.map((m) => [m.hash, m.folderMillis, m.sql])).toEqual(
      fromFolder.map((m) => [m.hash, m.folderMillis, m.sql]),
    );
  });
});
