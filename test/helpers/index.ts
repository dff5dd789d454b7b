// Shared test helpers: see each file's doc comments.
//   createTestContext()  – a migrated temp database + AppContext, in-process (context.ts)
//   startTestServer()    – an in-process HTTP server on 127.0.0.1:0 over such a context (server.ts)
//   freshEachTest()      – a fixture made before each test and disposed of after, behind one const;
//   useTestContext()     – the same for createTestContext() (fresh.ts)
//   saveInto(dir)       – a channel MediaSink writing into a plain folder (media-sink.ts)
//   spawnServer()        – `bun src/main.ts serve` as a real child process with temp dirs (server-process.ts)
//   holdWriteLock()      – another process holding BEGIN IMMEDIATE on a database file (write-lock.ts)
//   insertTenant()       – a tenants row inserted directly, for modules that only read tenants (tenants.ts)
//   eventually()         – wait (bounded) until a check returns a value (wait.ts)
//   freePort()           – a port free a moment ago on 127.0.0.1 (server-process.ts)
//   startSqld()          – a real libSQL server (sqld) on a free loopback port with a temp dir (sqld.ts)
//   TEST_DATABASE        – "file" or "libsql" (env switch): fileDatabaseOnly(), queryDatabase(), testDatabaseEnv() (test-database.ts)
//   noBwrapEnv()         – a spawned server's PATH on which bubblewrap does not work; skipWithoutBwrap() (sandbox.ts)

export type { TestContext, TestContextOptions } from "./context.ts";
export { createTestContext, FakeClock, TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY, testEnv } from "./context.ts";
export type { FreshOptions } from "./fresh.ts";
export { freshEachTest, useTestContext } from "./fresh.ts";
export { saveInto } from "./media-sink.ts";
export { rejectionOf } from "./rejection.ts";
export type { ProcessResult } from "./run-process.ts";
export { runProcess } from "./run-process.ts";
export { HAS_BWRAP, NO_BWRAP_REASON, noBwrapEnv, skipWithoutBwrap } from "./sandbox.ts";
export type { StartTestServerOptions, TestServer } from "./server.ts";
export { startTestServer } from "./server.ts";
export type { LogLine, ServerProcess, SpawnServerOptions } from "./server-process.ts";
export { freePort, REPO_ROOT, SERVE_FIXTURE, spawnServer } from "./server-process.ts";
export type { SqldServer } from "./sqld.ts";
export { HAS_SQLD, SQLD_BIN, skipWithoutSqld, startSqld } from "./sqld.ts";
export type { TenantRow } from "./tenants.ts";
export { insertTenant } from "./tenants.ts";
export { fileDatabaseOnly, ON_LIBSQL, queryDatabase, TEST_DATABASE, testDatabaseEnv } from "./test-database.ts";
export { eventually } from "./wait.ts";
export type { WriteLockHolder } from "./write-lock.ts";
export { holdWriteLock } from "./write-lock.ts";
