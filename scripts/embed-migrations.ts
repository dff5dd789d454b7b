// Writes src/db/migrations.gen.ts, which imports drizzle/ so a compiled binary carries its migrations.
// Run after `drizzle-kit generate` (npm run db:generate does both); a test checks it is current.
import { writeFileSync } from "node:fs";
import { renderMigrationsModule } from "../src/db/embed.ts";

const target = new URL("../src/db/migrations.gen.ts", import.meta.url);
writeFileSync(target, renderMigrationsModule(new URL("../drizzle/", import.meta.url).pathname));
console.log(`wrote ${target.pathname}`);
