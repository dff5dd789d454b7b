// Issue 14 (warm turn overhead): what the server creates in a workspace belongs to the folder's owner (the tenant's
// uid once a run was given the folder), so a warm follow-up needs no recursive chown.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chownSync, linkSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  appendWorkspaceFile,
  ensureWorkspaceDir,
  UnsafeWorkspaceFileError,
  workspacePath,
  writeWorkspaceFile,
} from "../../src/tenants/workspace-fs.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("SKIPPED workspace owner tests: the tests are not root here, so files cannot be given away");
const UID = 200_777;
const TENANT = "0b9d6a52-6f5e-4c36-9d55-4f0c8e7b1a11";

describe.skipIf(!isRoot)("new workspace entries take the workspace folder's owner", () => {
  let dir: string;
  let config: { TENANTS_DIR: string };
  let ws: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ws-owner-"));
    config = { TENANTS_DIR: dir };
    ws = workspacePath(config, TENANT);
    ensureWorkspaceDir(config, TENANT, "seed");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const owner = (rel: string) => {
    const s = lstatSync(join(ws, rel));
    return { uid: s.uid, gid: s.gid };
  };

  test("a workspace the server still owns: its new files and folders stay the server's", () => {
    writeWorkspaceFile(config, TENANT, "a/b/CLAUDE.md", "x");
    appendWorkspaceFile(config, TENANT, "timeline/day.md", "line\n");
    expect([owner("a"), owner("a/b"), owner("a/b/CLAUDE.md"), owner("timeline/day.md")]).toEqual(
      Array(4).fill({ uid: 0, gid: 0 }),
    );
  });

  test("a workspace given to the tenant's uid: written, appended and created entries (and folders on the way) are the uid's", () => {
    chownSync(ws, UID, UID);
    writeWorkspaceFile(config, TENANT, "execution/tool.py", "print(1)\n", 0o755);
    writeWorkspaceFile(config, TENANT, "CLAUDE.md", "new\n");
    appendWorkspaceFile(config, TENANT, "timeline/2026-12-03.md", (isNew) => (isNew ? "# day\n" : "line\n"));
    appendWorkspaceFile(config, TENANT, "timeline/2026-12-03.md", "more\n");
    ensureWorkspaceDir(config, TENANT, "inbox/2026");
    const want = { uid: UID, gid: UID };
    for (const rel of [
      "execution",
      "execution/tool.py",
      "CLAUDE.md",
      "timeline",
      "timeline/2026-12-03.md",
      "inbox",
      "inbox/2026",
    ])
      expect({ rel, ...owner(rel) }).toEqual({ rel, ...want });
    expect(lstatSync(join(ws, "execution/tool.py")).mode & 0o777).toBe(0o755);
  });

  test("an existing entry is not given away: a file of the server's appended to keeps its owner", () => {
    writeFileSync(join(ws, "server-log.md"), "a\n");
    chownSync(ws, UID, UID);
    appendWorkspaceFile(config, TENANT, "server-log.md", "b\n");
    expect(owner("server-log.md")).toEqual({ uid: 0, gid: 0 });
  });

  test("a hard link to a file outside is still refused, and the outside file keeps its owner", () => {
    const outside = join(dir, "outside.txt");
    writeFileSync(outside, "root's\n");
    chownSync(ws, UID, UID);
    linkSync(outside, join(ws, "notes.md"));
    expect(() => appendWorkspaceFile(config, TENANT, "notes.md", "x")).toThrow(UnsafeWorkspaceFileError);
    expect(lstatSync(outside).uid).toBe(0);
  });
});
