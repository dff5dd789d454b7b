import { afterAll, describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { walkDiskUsage } from "../../src/agent/disk-walk.ts";
import { measureDiskUsage } from "../../src/agent/limits.ts";

const root = mkdtempSync(join(tmpdir(), "disk-walk-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("walkDiskUsage: a small tree measured in process, as du -skx -P would", () => {
  test("files, nested folders, a hard link counted once, a symlink to a big tree not followed: the same as du", async () => {
    const ws = join(root, "ws");
    const cli = join(root, "cli");
    mkdirSync(join(ws, "a/b/c"), { recursive: true });
    mkdirSync(cli);
    writeFileSync(join(ws, "a/one.bin"), Buffer.alloc(300_000, 1));
    writeFileSync(join(ws, "a/b/c/two.bin"), Buffer.alloc(70_000, 2));
    linkSync(join(ws, "a/one.bin"), join(ws, "a/b/one-again.bin"));
    symlinkSync("/usr", join(ws, "usr-link"));
    writeFileSync(join(cli, "session.jsonl"), "x".repeat(5000));
    const walked = walkDiskUsage([ws, cli]);
    const du = await measureDiskUsage([ws, cli]);
    expect(du.kind).toBe("bytes");
    expect(walked).toBe(du.kind === "bytes" ? du.bytes : -1);
    expect(walked!).toBeGreaterThanOrEqual(370_000);
    expect(walked!).toBeLessThan(1_000_000);
  });

  test("past maxEntries (a folder of many names) it gives up: null, so the caller measures with du in a child", () => {
    const many = join(root, "many");
    mkdirSync(many);
    for (let i = 0; i < 50; i++) writeFileSync(join(many, `f${i}`), "");
    expect(walkDiskUsage([many], 49)).toBeNull();
    expect(walkDiskUsage([many], 50)).not.toBeNull();
  });
});
