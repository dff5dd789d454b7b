// `npm run bench` runs every benchmark; `npm run bench -- <name> [<name>…]` runs the named ones.
// Prints a Markdown table per benchmark and rewrites that benchmark's section of BENCHMARKS.md.
import { join } from "node:path";
import { REPO_ROOT } from "../test/helpers/index.ts";
import { binary } from "./binary.ts";
import { consoleOverview } from "./console.ts";
import { fairness } from "./fairness.ts";
import type { Benchmark } from "./harness.ts";
import { commitLine, machineLine, markdownTable, updateBenchmarksFile } from "./harness.ts";
import { ingest } from "./ingest.ts";
import { overhead } from "./overhead.ts";
import { scale } from "./scale.ts";
import { removeBenchDirs } from "./support.ts";
import { warm } from "./warm.ts";

const ALL: Benchmark[] = [ingest, overhead, fairness, scale, binary, consoleOverview, warm];
const FILE = join(REPO_ROOT, "BENCHMARKS.md");

const names = process.argv.slice(2);
const unknown = names.filter((n) => !ALL.some((b) => b.name === n));
if (unknown.length > 0 || names.includes("--help")) {
  console.error(`usage: npm run bench [-- <name>…]   (names: ${ALL.map((b) => b.name).join(", ")})`);
  process.exit(unknown.length > 0 ? 2 : 0);
}
const chosen = names.length > 0 ? ALL.filter((b) => names.includes(b.name)) : ALL;

let failed = 0;
for (const bench of chosen) {
  const started = performance.now();
  console.error(`bench ${bench.name}: running…`);
  try {
    const result = await bench.run();
    const seconds = (performance.now() - started) / 1000;
    const table = markdownTable(result.rows);
    console.log(`\n## ${bench.name}\n\n${table}\n`);
    for (const note of result.notes) console.log(`- ${note}`);
    const body = [
      `## ${bench.title ?? bench.name}`,
      "",
      bench.description,
      "",
      table,
      "",
      ...result.notes.map((n) => `- ${n}`),
      ...(result.notes.length > 0 ? [""] : []),
      `Command: \`npm run bench -- ${bench.name}\` (or \`npm run bench\` for all) · date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · took ${seconds.toFixed(0)} s`,
      `Machine: ${machineLine()} · commit: ${commitLine()}`,
    ].join("\n");
    updateBenchmarksFile(FILE, bench.name, body);
    console.error(`bench ${bench.name}: done in ${seconds.toFixed(1)} s`);
  } catch (err) {
    failed++;
    console.error(`bench ${bench.name} failed:`, err);
  } finally {
    removeBenchDirs();
  }
}
process.exit(failed > 0 ? 1 : 0);
