import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether bubblewrap is on this machine's PATH (tests that need a real sandbox skip without it). */
export const HAS_BWRAP = Bun.which("bwrap") !== null;

/** The reason printed by tests skipped for lack of bubblewrap. */
export const NO_BWRAP_REASON = "bubblewrap (bwrap) is not installed here: sandboxed runs cannot be tested";

/**
 * Skips nothing itself: logs once why the tests that need bwrap are skipped, and returns whether they must be.
 *   describe.skipIf(skipWithoutBwrap("sandboxed runs"))("…", () => { … });
 */
export function skipWithoutBwrap(what: string): boolean {
  if (!HAS_BWRAP) console.warn(`skipped (${what}): ${NO_BWRAP_REASON}`);
  return !HAS_BWRAP;
}

let fakeDir: string | undefined;

/**
 * The environment of a machine where bubblewrap does not work (as on a fresh laptop or in an unprivileged
 * container): PATH starts with a folder whose `bwrap` fails as an unusable one does, so the sandbox check
 * at start fails whether or not the real one is installed. Merge it into a spawned server's env.
 */
export function noBwrapEnv(): { PATH: string } {
  if (!fakeDir) {
    fakeDir = mkdtempSync(join(tmpdir(), "proxystaff-no-bwrap-"));
    const fake = join(fakeDir, "bwrap");
    writeFileSync(
      fake,
      "#!/bin/sh\necho 'bwrap: No permissions to create a new namespace (a fake: this test runs as on a machine without a working sandbox)' >&2\nexit 1\n",
    );
    chmodSync(fake, 0o755);
  }
  return { PATH: `${fakeDir}:${process.env.PATH ?? "/usr/bin:/bin"}` };
}
