import { existsSync, statSync } from "node:fs";
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import type { Config } from "./config.ts";
import { loadConfig, platformSecrets } from "./config.ts";
import type { AppContext } from "./context.ts";
import { queueCounts } from "./conversation/index.ts";
import type { DriverKind } from "./db/index.ts";
import { migrateDatabase, openDatabase } from "./db/index.ts";
import type { Logger } from "./log.ts";
import { createLogger } from "./log.ts";
import { createMetrics } from "./metrics/index.ts";

export interface CreateContextOptions {
  /** Apply pending migrations on open. Default true. */
  migrate?: boolean;
  clock?: Clock;
  log?: Logger;
  /** Where log lines go (default stdout). */
  writeLog?: (line: string) => void;
  /** Force a database driver (tests run the query layer on "libsql" too). Default: chosen by DATABASE_URL. */
  driver?: DriverKind;
}

/** Opens the database (migrating it) and builds the context every command and loop is handed. */
export async function createContext(config: Config, options: CreateContextOptions = {}): Promise<AppContext> {
  const log =
    options.log ??
    createLogger({
      level: config.LOG_LEVEL,
      redact: platformSecrets(config),
      write: options.writeLog,
      format: config.LOG_FORMAT,
    });
  const database = await openDatabase(config.DATABASE_URL, {
    authToken: config.DATABASE_AUTH_TOKEN,
    driver: options.driver,
  });
  warnIfReadableByOthers(config, database.path, log);
  if (options.migrate ?? true) {
    const applied = await migrateDatabase(database);
    if (applied > 0) log.info("migrations applied", { count: applied });
  }
  // Queue depth is read from the table when /metrics is scraped (every process sees the same number).
  const metrics = createMetrics({ queueDepth: async () => (await queueCounts(database.db)).queued });
  return { config, database, db: database.db, log, clock: options.clock ?? systemClock, metrics };
}

/**
 * Warns (never changes anything) when DATA_DIR is open to other local users or the database file is
 * readable by anyone but its owner: they hold every conversation, the generated keys and the CLI login.
 * ProxyStaff creates the folder 0700 (0711 once agent runs switch to tenant uids) and the file 0600; these are made before or by hand.
 */
export function warnIfReadableByOthers(
  config: Pick<Config, "DATA_DIR">,
  databasePath: string | null,
  log: Logger,
): void {
  const modeOf = (path: string) => (existsSync(path) ? statSync(path).mode & 0o777 : null);
  const dirMode = modeOf(config.DATA_DIR);
  // 0711 is how agent runs (other uids) reach their CLI directory inside it; reading or writing it is not allowed.
  if (dirMode !== null && (dirMode & 0o066) !== 0) {
    log.warn(`DATA_DIR is open to other local users (mode ${dirMode.toString(8)}): run chmod 711 ${config.DATA_DIR}`, {
      dataDir: config.DATA_DIR,
      mode: dirMode.toString(8),
    });
  }
  const fileMode = databasePath ? modeOf(databasePath) : null;
  if (databasePath && fileMode !== null && (fileMode & 0o077) !== 0) {
    log.warn(
      `the database file is readable by other users (mode ${fileMode.toString(8)}): run chmod 600 ${databasePath}*`,
      { path: databasePath, mode: fileMode.toString(8) },
    );
  }
}

/** Loads config from the environment and builds the context. */
export async function contextFromEnv(
  env: Record<string, string | undefined>,
  options: CreateContextOptions = {},
): Promise<AppContext> {
  return createContext(loadConfig(env), options);
}
