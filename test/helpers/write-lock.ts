/** A second process holding a database's write lock (like the runbook's sqlite3 shell inside BEGIN IMMEDIATE). */
export interface WriteLockHolder {
  /** Resolves when the holder has committed and exited. */
  released: Promise<void>;
  /** Ends the lock early (COMMIT at once). */
  release(): void;
}

const HOLDER_SCRIPT = `
const { Database } = require("bun:sqlite");
const db = new Database(process.argv[1]);
db.exec("PRAGMA busy_timeout = 5000");
db.exec("BEGIN IMMEDIATE");
console.log("locked");
const finish = () => { db.exec("COMMIT"); db.close(); process.exit(0); };
setTimeout(finish, Number(process.argv[2]));
process.on("SIGTERM", finish);
`;

/**
 * Starts a separate process (locks are per process: a second connection inside the test process
 * does not block a libSQL connection there) that takes `BEGIN IMMEDIATE` on `dbPath` and keeps it for
 * `holdMs`; resolves once the lock is held.
 */
export async function holdWriteLock(dbPath: string, holdMs: number): Promise<WriteLockHolder> {
  const proc = Bun.spawn([process.execPath, "-e", HOLDER_SCRIPT, dbPath, String(holdMs)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the lock holder exited before taking the lock (code ${await proc.exited})`);
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    released: proc.exited.then(() => undefined),
    release: () => proc.kill("SIGTERM"),
  };
}
