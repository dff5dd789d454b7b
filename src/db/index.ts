export { openDatabase, pingDatabase } from "./client.ts";
export { databaseBusyResponse, isDatabaseBusy } from "./client.ts";
export type { Database, Db, DriverKind } from "./client.ts";
export { migrateDatabase, migrationStatus } from "./migrate.ts";
export * as schema from "./schema.ts";
export type { MessageRow, TaskRow, TenantRow } from "./schema.ts";
