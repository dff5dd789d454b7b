import type { Dir } from "node:fs";
import { lstatSync, opendirSync } from "node:fs";
import { join } from "node:path";

/** How many entries the in-process walk looks at before it gives up (a bigger tree is measured by `du` in a child). */
export const DISK_WALK_MAX_ENTRIES = 2000;

/**
 * The disk space `paths` use, like `du -skx -P` (blocks really used, links not followed, one file system, each
 * inode once), walked in this process: for the small trees most tenants have, a `du` child costs far more than the
 * walk (its spawn and exit under load are tens of ms). Entries are read one at a time, so a folder of millions of
 * names costs at most `maxEntries` reads; past that → null, and the caller measures in a child instead.
 */
export function walkDiskUsage(paths: readonly string[], maxEntries = DISK_WALK_MAX_ENTRIES): number | null {
  const seen = new Set<string>();
  let blocks = 0;
  let entries = 0;
  for (const root of paths) {
    const top = lstatSync(root);
    blocks += top.blocks;
    if (!top.isDirectory()) continue;
    const stack = [root];
    while (stack.length > 0) {
      const dirPath = stack.pop()!;
      let dir: Dir;
      try {
        dir = opendirSync(dirPath);
      } catch {
        continue; // vanished or unreadable mid-walk: du also goes on
      }
      try {
        for (let entry = dir.readSync(); entry !== null; entry = dir.readSync()) {
          if (++entries > maxEntries) return null;
          const path = join(dirPath, entry.name);
          const info = lstatSync(path, { throwIfNoEntry: false });
          if (!info || info.dev !== top.dev) continue; // gone, or another file system (-x)
          if (info.nlink > 1 && !info.isDirectory()) {
            const key = `${info.dev}:${info.ino}`;
            if (seen.has(key)) continue;
            seen.add(key);
          }
          blocks += info.blocks;
          if (info.isDirectory()) stack.push(path);
        }
      } finally {
        dir.closeSync();
      }
    }
  }
  return blocks * 512;
}
