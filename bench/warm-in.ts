// `bun bench/warm-in.ts`: only the warm benchmark's overhead "in" rows (webhook → turn written to the agent, warm
// against cold follow-ups, stand-in agent), printed, BENCHMARKS.md untouched: quick before/after comparisons.
import { chmodSync } from "node:fs";
import { benchDir, removeBenchDirs } from "./support.ts";
import { startTelegramSink } from "./telegram-sink.ts";
import { overheadIn } from "./warm.ts";

const dir = benchDir("warm-in");
chmodSync(dir, 0o711); // runs execute as their tenant's uid (root server)
const sink = startTelegramSink();
try {
  for (const r of await overheadIn(dir, sink)) console.log(`${r.case}: ${r.value} (baseline ${r.baseline})`);
} finally {
  await sink.stop();
  removeBenchDirs();
}
