// `npm run build`: compiles the CLI (with its migrations and the .sql files as text) into one
// executable, dist/proxystaff. Extra arguments go to `bun build`, e.g. `--target=bun-linux-arm64`.
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const outfile = process.env.PROXYSTAFF_BUILD_OUTFILE ?? "dist/proxystaff";
mkdirSync(new URL("../dist", import.meta.url), { recursive: true });

const args = [
  "build",
  "src/main.ts",
  "--compile",
  "--outfile",
  outfile,
  "--loader",
  ".sql:text",
  // The binary reads its configuration from the environment only, never a bunfig.toml in the
  // directory it happens to be started in.
  "--no-compile-autoload-bunfig",
  ...process.argv.slice(2),
];
const build = Bun.spawnSync([process.execPath, ...args], { cwd: root, stdout: "inherit", stderr: "inherit" });
if (build.exitCode !== 0) {
  console.error(`bun build failed (exit ${build.exitCode})`);
  process.exit(build.exitCode ?? 1);
}
console.log(`built ${outfile}`);
