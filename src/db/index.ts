export type { Database, Db, DriverKind } from "./client.ts";
export { databaseBusyResponse, isDatabaseBusy, isDatabaseUnavailable, openDatabase, pingDatabase } from "./client.ts";
export { migrateDatabase, migrationStatus } from "./migrate.ts";
export { preparedPerDatabase } from "./prepared.ts";
export type { MessageRow, TaskRow, TenantRow } from "./schema.ts";
export * as schema from "./schema.ts";
