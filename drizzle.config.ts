import { defineConfig } from "drizzle-kit";

// drizzle-kit runs under Node; for commands that open the database (studio, check against a file)
// it uses @libsql/client, which the project already depends on, so no second SQLite driver is needed.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
  dbCredentials: { url: process.env.DATABASE_URL ?? "file:./data/proxystaff.db" },
});
