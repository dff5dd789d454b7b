import { closeSync, constants, fchownSync, fstatSync, lchownSync, lstatSync, opendirSync, openSync } from "node:fs";

/** How many entries the in-process walk looks at before it gives up (a bigger tree goes to `chown -R` in a child). */
export const GIVE_TREE_MAX_ENTRIES = 2000;
/** Folders open at once during the walk (a deeper tree goes to `chown -R`). */
const MAX_OPEN_FOLDERS = 64;
const OPEN_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** An entry named relative to an open folder: resolved from the folder itself, never from a path a run could swap. */
const at = (dirFd: number, name: string) => `/proc/self/fd/${dirFd}/${name}`;

/**
 * Gives a small tree to `uid` in this process, like `chown -R -P uid:uid` (links not followed, each folder opened
 * O_NOFOLLOW and its entries reached through the open folder, so a folder swapped for a symlink mid-walk leads
 * nowhere outside), changing only what is not the uid's yet. Stricter than chown: a file with several names (a hard
 * link) is left alone. For the small trees most tenants have this costs far less than a `chown` child under load.
 * False (nothing left half done that a `chown -R` would not finish) when the tree is bigger than `maxEntries` or
 * deeper than the open-folder cap: the caller then runs `chown -R`.
 */
export function giveTreeInProcess(uid: number, dirs: readonly string[], maxEntries = GIVE_TREE_MAX_ENTRIES): boolean {
  let entries = 0;
  const open: number[] = [];
  try {
    for (const dir of dirs) {
      const rootFd = openSync(dir, OPEN_DIR);
      open.push(rootFd);
      const root = fstatSync(rootFd);
      if (root.uid !== uid || root.gid !== uid) fchownSync(rootFd, uid, uid);
      while (open.length > 0) {
        const fd = open.pop()!;
        try {
          const listing = opendirSync(`/proc/self/fd/${fd}`);
          try {
            for (let entry = listing.readSync(); entry !== null; entry = listing.readSync()) {
              if (++entries > maxEntries) return false;
              const isFolder = giveEntry(at(fd, entry.name), uid);
              if (!isFolder) continue;
              if (open.length >= MAX_OPEN_FOLDERS) return false;
              try {
                open.push(openSync(at(fd, entry.name), OPEN_DIR));
              } catch {
                // swapped for a link or removed since its lstat: not walked (chown -R -P would not follow it either)
              }
            }
          } finally {
            listing.closeSync();
          }
        } finally {
          closeSync(fd);
        }
      }
    }
    return true;
  } finally {
    for (const fd of open) closeSync(fd);
  }
}

/** lchown of one entry unless it is the uid's already (or a hard link); true when it is a folder to walk. */
function giveEntry(path: string, uid: number): boolean {
  const info = lstatSync(path, { throwIfNoEntry: false });
  if (!info) return false;
  const isFolder = info.isDirectory();
  if ((info.uid !== uid || info.gid !== uid) && (isFolder || info.nlink === 1)) lchownSync(path, uid, uid);
  return isFolder;
}
