export { BUSY_TIMEOUT_MS, openDatabase, pingDatabase } from "./client.ts";
export { DATABASE_BUSY_RETRY_AFTER_S, DatabaseBusyError, databaseBusyResponse, isDatabaseBusy } from "./client.ts";
export type { BusyRetryOptions } from "./client.ts";
export type { Database, Db, DriverKind, OpenDatabaseOptions } from "./client.ts";
export { migrateDatabase, migrationStatus } from "./migrate.ts";
export type { MigrationStatus } from "./migrate.ts";
export * as schema from "./schema.ts";
export type { CredentialRow, MessageRow, SessionRow, TaskRow, TenantRow } from "./schema.ts";
