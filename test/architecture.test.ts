import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The layers of docs/architecture.md, lowest first: a file may import its own layer or a lower one, never a
 * higher one, and the imports of src/ form no cycle (between files, or between folders).
 */
const LAYERS: { name: string; members: string[] }[] = [
  {
    name: "core",
    members: [
      "config.ts",
      "log.ts",
      "clock.ts",
      "errors.ts",
      "ports.ts",
      "context.ts",
      "run-tokens.ts",
      "db",
      "metrics",
    ],
  },
  {
    name: "domain",
    members: ["tenants", "credentials", "channels", "agent", "conversation", "scheduler", "usage", "instances"],
  },
  { name: "surface", members: ["http", "mcp", "gateway", "console", "ops"] },
  { name: "wiring", members: ["parts.ts", "serve.ts", "runtime.ts"] },
  { name: "entry", members: ["main.ts", "cli"] },
];

const SRC = resolve(import.meta.dir, "..", "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The top-level member of src/ a file belongs to: its folder, or its own name for a file at the top. */
function memberOf(file: string): string {
  return relative(SRC, file).split("/")[0] ?? "";
}

function layerOf(file: string): number {
  const member = memberOf(file);
  const index = LAYERS.findIndex((layer) => layer.members.includes(member));
  if (index < 0)
    throw new Error(`src/${relative(SRC, file)} is in no layer: add "${member}" to LAYERS and docs/architecture.md`);
  return index;
}

/** Relative imports of a file (static, type-only, re-exports and dynamic import()), resolved to files of src/. */
function importsOf(file: string): { line: number; target: string; spec: string }[] {
  const text = readFileSync(file, "utf8");
  const found: { line: number; target: string; spec: string }[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.[^"']+)["']/gm,
    /^\s*import\s*["'](\.[^"']+)["']/gm,
    /\bimport\(\s*["'](\.[^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) {
      const spec = match[1] ?? "";
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(`${SRC}/`) || !/\.tsx?$/.test(target)) continue;
      found.push({ line: text.slice(0, match.index).split("\n").length, target, spec });
    }
  }
  return found;
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const name = (file: string) => `src/${relative(SRC, file)}`;

/** Tarjan's strongly connected components with more than one file (or a file importing itself). */
function cycles(nodes: string[], edges: (node: string) => string[]): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of edges(node)) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(to) ?? 0));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node) ?? 0, index.get(to) ?? 0));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      for (;;) {
        const top = stack.pop() as string;
        onStack.delete(top);
        component.push(top);
        if (top === node) break;
      }
      if (component.length > 1 || edges(node).includes(node)) found.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return found;
}

describe("architecture", () => {
  test("every file of src/ belongs to a layer", () => {
    for (const file of files) expect(() => layerOf(file)).not.toThrow();
  });

  test("imports point down the layers (core ← domain ← surfaces ← wiring ← entry), and nothing below cli/ imports cli/", () => {
    const upward: string[] = [];
    for (const [file, imports] of graph) {
      for (const { line, target, spec } of imports) {
        const from = layerOf(file);
        const to = layerOf(target);
        if (to > from)
          upward.push(`${name(file)}:${line} imports "${spec}" (${LAYERS[from]?.name} → ${LAYERS[to]?.name})`);
      }
    }
    expect(upward).toEqual([]);
  });

  test("no import cycle between files", () => {
    const found = cycles(files, (file) => (graph.get(file) ?? []).map((i) => i.target));
    expect(found.map((component) => component.map(name).join(" ↔ "))).toEqual([]);
  });

  test("no import cycle between folders", () => {
    const members = [...new Set(files.map(memberOf))];
    const edges = new Map<string, Set<string>>(members.map((m) => [m, new Set<string>()]));
    const why = new Map<string, string>();
    for (const [file, imports] of graph) {
      for (const { line, target, spec } of imports) {
        const from = memberOf(file);
        const to = memberOf(target);
        if (from === to) continue;
        edges.get(from)?.add(to);
        why.set(`${from}→${to}`, `${name(file)}:${line} imports "${spec}"`);
      }
    }
    const found = cycles(members, (m) => [...(edges.get(m) ?? [])]);
    const explained = found.map((component) =>
      component
        .flatMap((from) => component.filter((to) => edges.get(from)?.has(to)).map((to) => why.get(`${from}→${to}`)))
        .join("; "),
    );
    expect(explained).toEqual([]);
  });

  test("the check itself finds an upward import and a cycle", () => {
    const fake = (file: string) => join(SRC, file);
    expect(layerOf(fake("tenants/x.ts")) < layerOf(fake("cli/x.ts"))).toBe(true);
    expect(cycles(["a", "b", "c"], (n) => ({ a: ["b"], b: ["a"], c: [] })[n] ?? [])).toEqual([["a", "b"]]);
  });
});
