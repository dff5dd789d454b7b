// For the runbook's `node scripts/<name>.js …` lines: runs scripts/<name>.ts with the project's Bun
// (node_modules/.bin/bun, else `bun` on PATH) and exits with its exit code. Node cannot run the
// TypeScript commands itself (they use Bun's SQLite driver).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Runs scripts/<name>.ts with the arguments given to this process. */
export function runWithBun(name) {
  const scripts = dirname(fileURLToPath(import.meta.url));
  const local = join(scripts, "..", "node_modules", ".bin", "bun");
  const bun = existsSync(local) ? local : "bun";
  const result = spawnSync(bun, [join(scripts, `${name}.ts`), ...process.argv.slice(2)], { stdio: "inherit" });
  if (result.error) {
    process.stderr.write(
      `Cannot start Bun (${result.error.message}): run \`npm install\` first, or use \`proxystaff ${name}\`.\n`,
    );
    process.exit(1);
  }
  process.exit(result.status ?? 1);
}
