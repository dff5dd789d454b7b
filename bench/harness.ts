import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";

/** One row of a benchmark's table. */
export interface BenchRow {
  benchmark: string;
  case: string;
  value: string;
  baseline: string;
  ratio: string;
  target: string;
  verdict: "met" | "missed" | "info";
}

/** What one benchmark produced: its rows, and notes for BENCHMARKS.md (method, findings, missed targets). */
export interface BenchResult {
  rows: BenchRow[];
  notes: string[];
}

/** A named benchmark: runs its baseline and ProxyStaff in the same run and returns rows plus notes. */
export interface Benchmark {
  name: string;
  /** The BENCHMARKS.md heading, when not the name. */
  title?: string;
  /** One paragraph: what is measured, how, and what the baseline is. */
  description: string;
  run(): Promise<BenchResult>;
}

/** A row whose verdict follows from a comparison (info when there is no target). */
export function row(benchmark: string, fields: Omit<BenchRow, "benchmark" | "verdict">, isMet?: boolean): BenchRow {
  return { benchmark, ...fields, verdict: isMet === undefined ? "info" : isMet ? "met" : "missed" };
}

/** The rows as a Markdown table. */
export function markdownTable(rows: BenchRow[]): string {
  const header =
    "| benchmark | case | ProxyStaff | baseline | ratio | target | verdict |\n|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) => `| ${r.benchmark} | ${r.case} | ${r.value} | ${r.baseline} | ${r.ratio} | ${r.target} | ${r.verdict} |`,
  );
  return [header, ...lines].join("\n");
}

/** CPU count and model, memory, Bun version, OS. */
export function machineLine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Bun ${Bun.version}, ${process.platform}/${process.arch}`;
}

/** The short commit hash, marked when tracked files other than BENCHMARKS.md have uncommitted changes. */
export function commitLine(): string {
  const r = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { stdout: "pipe", stderr: "ignore" });
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md"], {
    stdout: "pipe",
  })
    .stdout.toString()
    .trim();
  return `${r.stdout.toString().trim() || "unknown"}${dirty ? " (with uncommitted changes)" : ""}`;
}

/** Replaces (or appends) the section of BENCHMARKS.md that belongs to one benchmark. */
export function updateBenchmarksFile(path: string, name: string, body: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${body}\n${end}`;
  const current = existsSync(path)
    ? readFileSync(path, "utf8")
    : "# Benchmarks\n\nProduced by `npm run bench`; each section says the command, date, machine and commit it came from.\n";
  const re = new RegExp(`${start}[\\s\\S]*?${end}`);
  writeFileSync(path, re.test(current) ? current.replace(re, block) : `${current.trimEnd()}\n\n${block}\n`);
}

/** Percentile of a sorted-or-not list of numbers (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** A number with fixed digits, or "n/a". */
export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
