import { afterAll, describe, expect, test } from "bun:test";
import { linkSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { giveTreeInProcess } from "../../src/agent/give-tree.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("SKIPPED giveTreeInProcess tests: not root here, so nothing can be given to another uid");
const UID = 200_888;
const root = mkdtempSync(join(tmpdir(), "give-tree-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const owner = (path: string) => lstatSync(path).uid;

describe.skipIf(!isRoot)("giveTreeInProcess: a small tree given to the tenant's uid without a chown child", () => {
  test("every folder and file becomes the uid's; links are not followed; a hard link to an outside file is left alone", () => {
    const ws = join(root, "ws");
    const cli = join(root, "cli");
    const outside = join(root, "outside");
    mkdirSync(join(ws, "a/b"), { recursive: true });
    mkdirSync(cli);
    mkdirSync(outside);
    writeFileSync(join(ws, "CLAUDE.md"), "x");
    writeFileSync(join(ws, "a/b/tool.py"), "x");
    writeFileSync(join(cli, "s.jsonl"), "x");
    writeFileSync(join(outside, "secret"), "root's");
    symlinkSync(outside, join(ws, "dir-link"));
    symlinkSync(join(outside, "secret"), join(ws, "file-link"));
    linkSync(join(outside, "secret"), join(ws, "a/hard"));
    expect(giveTreeInProcess(UID, [ws, cli])).toBe(true);
    for (const p of [
      ws,
      join(ws, "a"),
      join(ws, "a/b"),
      join(ws, "CLAUDE.md"),
      join(ws, "a/b/tool.py"),
      cli,
      join(cli, "s.jsonl"),
    ])
      expect({ p, uid: owner(p) }).toEqual({ p, uid: UID });
    expect(owner(join(ws, "dir-link"))).toBe(UID); // the link itself (lchown), not what it points to
    expect([owner(outside), owner(join(outside, "secret"))]).toEqual([0, 0]);
  });

  test("a tree over maxEntries: false, and the caller falls back to chown -R", () => {
    const big = join(root, "big");
    mkdirSync(big);
    for (let i = 0; i < 30; i++) writeFileSync(join(big, `f${i}`), "");
    expect(giveTreeInProcess(UID, [big], 10)).toBe(false);
    expect(giveTreeInProcess(UID, [big], 30)).toBe(true);
    expect(owner(join(big, "f29"))).toBe(UID);
  });

  test("a symlink as the top folder is refused (O_NOFOLLOW), nothing behind it given away", () => {
    const target = join(root, "target");
    mkdirSync(target);
    writeFileSync(join(target, "f"), "x");
    symlinkSync(target, join(root, "swapped"));
    expect(() => giveTreeInProcess(UID, [join(root, "swapped")])).toThrow();
    expect(owner(join(target, "f"))).toBe(0);
  });
});
