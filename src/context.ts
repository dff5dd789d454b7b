import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import type { Database, Db } from "./db/index.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics/index.ts";

/** What every module is handed instead of reaching for globals. */
export interface AppContext {
  config: Config;
  database: Database;
  db: Db;
  log: Logger;
  clock: Clock;
  /** Prometheus metrics of this process (GET /metrics). */
  metrics: Metrics;
}
