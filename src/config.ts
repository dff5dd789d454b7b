import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { describeZodIssue } from "./errors.ts";

/** Raised when the environment cannot be turned into a config; lists every bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (fix these environment variables; docs/operations.md lists them all):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
}

const wholeNumber = (message: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, message)
    .transform((v) => Number(v));
const port = wholeNumber("must be a whole number from 0 to 65535").pipe(
  z.number().max(65535, "must be a whole number from 0 to 65535"),
);
const positiveInt = wholeNumber("must be a positive whole number").pipe(
  z.number().positive("must be a positive whole number"),
);
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const url = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ""));
const optional = <T extends z.ZodType>(schema: T) => schema.optional();
/** A size in MiB where "0" or "off" means no limit (null). */
const mebibytesOrOff = z
  .string()
  .trim()
  .regex(/^(\d+|off)$/i, 'must be a whole number of MiB, or 0 / "off" for no limit')
  .transform((v) => (/^off$/i.test(v) || Number(v) === 0 ? null : Number(v)));

/** USD per million tokens of one model family (MODEL_PRICES values). */
const modelPriceSchema = z.object({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cache_write: z.number().nonnegative(),
  cache_read: z.number().nonnegative(),
});
export type ModelPrice = z.infer<typeof modelPriceSchema>;
/** MODEL_PRICES: JSON `{model-prefix: {input, output, cache_write, cache_read}}`, over the built-in table. */
const modelPrices = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({
        code: "custom",
        message: "must be JSON: {model-prefix: {input, output, cache_write, cache_read}}",
      });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string().min(1), modelPriceSchema));
/** A budget in USD: a positive decimal number. */
const usd = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, "must be a positive number of US dollars, e.g. 50 or 12.5")
  .transform((v) => Number(v))
  .pipe(z.number().positive("must be a positive number of US dollars, e.g. 50 or 12.5"));
/** Memory one warm CLI process is budgeted (it measures ~190 MB RSS; the rest is headroom for its tools). */
export const WARM_PROCESS_BUDGET_BYTES = 400 * 1024 * 1024;

/** AGENT_WARM_MAX's default: one warm process per ~400 MB of the machine's memory, at least 1, at most 16. */
export function defaultWarmMax(totalBytes: number = totalmem()): number {
  return Math.max(1, Math.min(16, Math.floor(totalBytes / WARM_PROCESS_BUDGET_BYTES)));
}

const credentialsKey = z.string().refine((v) => isAesKey(v), "must be 32 bytes encoded as base64");

const databaseUrl = z
  .string()
  .refine(
    (v) => /^(file:|libsql:\/\/|https?:\/\/|wss?:\/\/)/.test(v),
    "must start with file:, libsql://, http(s):// or ws(s)://",
  );

const envSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATA_DIR: z.string().min(1).default("./data"),
  TENANTS_DIR: z.string().min(1).default("./tenants"),
  DATABASE_URL: optional(databaseUrl),
  DATABASE_AUTH_TOKEN: optional(z.string().min(1)),
  ADMIN_API_KEY: optional(z.string().min(16, "must be at least 16 characters")),
  CREDENTIALS_KEY: optional(credentialsKey),
  CREDENTIALS_KEY_PREVIOUS: optional(
    z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .refine((keys) => keys.every(isAesKey), "every entry must be 32 bytes encoded as base64"),
  ),
  PUBLIC_URL: optional(url),
  TELEGRAM_BOT_TOKEN: optional(z.string().regex(/^\d+:[\w-]+$/, "must look like 123456:ABC-DEF…")),
  TELEGRAM_WEBHOOK_SECRET: optional(
    z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, "1-256 characters of A-Z, a-z, 0-9, _ and -"),
  ),
  TELEGRAM_MODE: optional(z.enum(["webhook", "polling", "off"])),
  TELEGRAM_API_ROOT: url.default("https://api.telegram.org"),
  TWILIO_ACCOUNT_SID: optional(z.string().regex(/^AC[0-9a-fA-F]{32}$/, "must be AC followed by 32 hex digits")),
  TWILIO_AUTH_TOKEN: optional(z.string().min(1)),
  TWILIO_WHATSAPP_FROM: optional(
    z.string().regex(/^(whatsapp:)?\+[1-9]\d{6,14}$/, "must be an E.164 number, e.g. whatsapp:+14155238886"),
  ),
  TWILIO_API_BASE: optional(url),
  /** Twilio Content SID (HX…) of an approved one-variable template, for WhatsApp messages outside the 24-hour window. */
  WHATSAPP_TEMPLATE_SID: optional(z.string().regex(/^HX[0-9a-fA-F]{32}$/, "must be HX followed by 32 hex digits")),
  AGENT_COMMAND: optional(z.string().min(1)),
  AGENT_ARGS: z.string().default("--allowedTools Bash,Read,Write,Edit,Glob,Grep,mcp__proxystaff"),
  CLAUDE_CONFIG_DIR: optional(z.string().min(1)),
  /** on: agents reach the model only through /model/* with a per-run token; off: agents hold the platform's login. */
  MODEL_GATEWAY: z.enum(["on", "off"]).default("on"),
  /** Default monthly model budget per tenant (USD); tenants.monthly_budget_usd overrides. Unset = no budget. */
  TENANT_MONTHLY_BUDGET_USD: optional(usd),
  /** Prices over the built-in table (src/usage/prices.ts), longest model prefix wins. */
  MODEL_PRICES: optional(modelPrices),
  AGENT_TIMEOUT_MS: positiveInt.default(300_000),
  AGENT_MAX_CONCURRENCY: positiveInt.default(4),
  /** on: a tenant's follow-up turns go to its warm CLI process (stream-json); off: one cold `claude -p` per run. */
  AGENT_WARM: z.enum(["on", "off"]).default("on"),
  /** Most warm CLI processes kept at once (least recently used retired first); default sized to the machine's memory. */
  AGENT_WARM_MAX: positiveInt.default(defaultWarmMax()),
  /** A warm process unused this long is retired. */
  AGENT_WARM_IDLE_MS: positiveInt.default(600_000),
  LEASE_TTL_MS: wholeNumber("must be a whole number of milliseconds, at least 1000")
    .pipe(z.number().min(1000, "must be a whole number of milliseconds, at least 1000"))
    .default(300_000),
  RATE_LIMIT_PER_MINUTE: positiveInt.default(60),
  AGENT_SANDBOX: z.enum(["auto", "bwrap", "none"]).default("auto"),
  AGENT_MEMORY_MB: mebibytesOrOff.default(1024),
  AGENT_TMP_MB: positiveInt.default(256),
  TENANT_DISK_MB: mebibytesOrOff.default(1024),
  DISK_FREE_MIN_MB: wholeNumber("must be a whole number of MiB").default(512),
  DISK_FREE_MIN_PERCENT: wholeNumber("must be a whole number from 0 to 100")
    .pipe(z.number().max(100, "must be a whole number from 0 to 100"))
    .default(5),
  SENDGRID_API_BASE: url.default("https://api.sendgrid.com"),
  GOOGLE_TOKEN_URL: url.default("https://oauth2.googleapis.com/token"),
  GOOGLE_CLIENT_ID: optional(z.string().min(1)),
  GOOGLE_CLIENT_SECRET: optional(z.string().min(1)),
  METRICS_PUBLIC: bool.default(false),
  /** on: the operator web console at /console; off: not mounted. */
  CONSOLE: z.enum(["on", "off"]).default("on"),
  TASK_MIN_INTERVAL_S: wholeNumber("must be a whole number of seconds (0 = no floor)").default(300),
  TASK_MAX_PENDING: positiveInt.default(100),
  TASK_MAX_RUNS_PER_DAY: positiveInt.default(200),
  RETENTION_DAYS: wholeNumber("must be a whole number of days (0 = keep forever)").default(365),
  /** This process's name among instances sharing one database (default: FLY_MACHINE_ID, else the host name). */
  INSTANCE_ID: optional(
    z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "letters, digits, . _ - (at most 100)"),
  ),
  FLY_MACHINE_ID: optional(z.string().min(1)),
  FLY_APP_NAME: optional(z.string().min(1)),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** json | pretty; unset = pretty on a terminal, JSON otherwise (see log.ts). */
  LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
});

type Env = z.infer<typeof envSchema>;

/** Every environment variable the config reads (docs/operations.md documents each; a test checks). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

/** The process configuration, parsed once at start and frozen. */
export type Config = Readonly<
  Omit<
    Env,
    | "DATABASE_URL"
    | "ADMIN_API_KEY"
    | "CREDENTIALS_KEY"
    | "CREDENTIALS_KEY_PREVIOUS"
    | "TELEGRAM_MODE"
    | "CLAUDE_CONFIG_DIR"
    | "TENANT_MONTHLY_BUDGET_USD"
    | "MODEL_PRICES"
    | "INSTANCE_ID"
  > & {
    INSTANCE_ID: string;
    DATABASE_URL: string;
    ADMIN_API_KEY: string;
    CREDENTIALS_KEY: string;
    CREDENTIALS_KEY_PREVIOUS: readonly string[];
    TELEGRAM_MODE: "webhook" | "polling" | "off";
    CLAUDE_CONFIG_DIR: string;
    /** The platform's own environment variables that the agent CLI needs to log in (never a tenant's). */
    agentAuthEnv: Readonly<Record<string, string>>;
    /** Where the model gateway forwards to: the server's ANTHROPIC_BASE_URL, default https://api.anthropic.com. */
    modelUpstreamUrl: string;
    /** TENANT_MONTHLY_BUDGET_USD: the default monthly budget of a tenant without its own; null = none. */
    tenantMonthlyBudgetUsd: number | null;
    /** MODEL_PRICES: operator prices by model prefix (USD per million tokens), over the built-in table. */
    modelPrices: Readonly<Record<string, ModelPrice>>;
    /** Notes for the start-up log (generated secrets and the like). */
    notices: readonly { level: "info" | "warn"; msg: string }[];
  }
>;

/** Variables passed through to the agent CLI as the platform's login and CLI settings. */
export const AGENT_AUTH_VARIABLES = [
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_BASE_URL",
  "ANTHROPIC_MODEL",
  "CLAUDE_CODE_OAUTH_TOKEN",
  "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
  "ENABLE_TOOL_SEARCH",
  "DISABLE_AUTOUPDATER",
] as const;

/** Every secret the platform holds: never logged, never given to an agent. */
export function platformSecrets(config: Config): string[] {
  return [
    config.ADMIN_API_KEY,
    config.CREDENTIALS_KEY,
    ...config.CREDENTIALS_KEY_PREVIOUS,
    config.TELEGRAM_BOT_TOKEN,
    config.TELEGRAM_WEBHOOK_SECRET,
    config.TWILIO_AUTH_TOKEN,
    config.DATABASE_AUTH_TOKEN,
    config.GOOGLE_CLIENT_SECRET,
  ].filter((s): s is string => typeof s === "string" && s.length > 0);
}

export interface LoadConfigOptions {
  /** Write missing ADMIN_API_KEY / CREDENTIALS_KEY into DATA_DIR (the server and CLI do; tests may not). Default true. */
  generateSecrets?: boolean;
}

/** Parses the environment into a frozen Config, or throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>, options: LoadConfigOptions = {}): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => describeZodIssue(issue, issue.path.length ? "" : "environment")),
    );
  }
  const e = parsed.data;
  const dataDir = resolve(e.DATA_DIR);
  const notices: { level: "info" | "warn"; msg: string }[] = [];
  const generate = options.generateSecrets ?? true;

  const adminKey =
    e.ADMIN_API_KEY ??
    readOrCreateSecret(
      dataDir,
      "admin-api-key",
      () => randomBytes(24).toString("base64url"),
      generate,
      notices,
      "ADMIN_API_KEY",
    );
  const credentialsKeyValue =
    e.CREDENTIALS_KEY ??
    readOrCreateSecret(
      dataDir,
      "credentials-key",
      () => randomBytes(32).toString("base64"),
      generate,
      notices,
      "CREDENTIALS_KEY",
    );
  if (adminKey.length < 16) {
    throw new ConfigError([
      `ADMIN_API_KEY: the stored key in ${join(dataDir, "admin-api-key")} is shorter than 16 characters; delete the file to generate a new one`,
    ]);
  }
  if (!e.CREDENTIALS_KEY) {
    notices.push({
      level: "warn",
      msg: `CREDENTIALS_KEY is not set: using the generated key in ${join(dataDir, "credentials-key")}. Production must set CREDENTIALS_KEY itself (a secret, not a file beside the data it protects).`,
    });
  }
  if (!isAesKey(credentialsKeyValue)) {
    throw new ConfigError([
      `CREDENTIALS_KEY: the stored key in ${join(dataDir, "credentials-key")} is not 32 bytes of base64`,
    ]);
  }

  if (e.MODEL_GATEWAY === "off") {
    notices.push({
      level: "warn",
      msg: "MODEL_GATEWAY=off: every agent run holds the platform's model login in its environment (any agent can read and send it anywhere); set MODEL_GATEWAY=on",
    });
  }
  const agentAuthEnv: Record<string, string> = {};
  for (const name of AGENT_AUTH_VARIABLES) {
    const value = env[name];
    if (value) agentAuthEnv[name] = value;
  }

  const { TENANT_MONTHLY_BUDGET_USD, MODEL_PRICES, ...rest } = e;
  return Object.freeze({
    ...rest,
    tenantMonthlyBudgetUsd: TENANT_MONTHLY_BUDGET_USD ?? null,
    modelPrices: Object.freeze(MODEL_PRICES ?? {}),
    DATA_DIR: dataDir,
    TENANTS_DIR: resolve(e.TENANTS_DIR),
    DATABASE_URL: e.DATABASE_URL ?? `file:${join(dataDir, "proxystaff.db")}`,
    ADMIN_API_KEY: adminKey,
    CREDENTIALS_KEY: credentialsKeyValue,
    CREDENTIALS_KEY_PREVIOUS: e.CREDENTIALS_KEY_PREVIOUS ?? [],
    TELEGRAM_MODE: e.TELEGRAM_MODE ?? (e.TELEGRAM_BOT_TOKEN ? (e.PUBLIC_URL ? "webhook" : "polling") : "off"),
    CLAUDE_CONFIG_DIR: resolve(e.CLAUDE_CONFIG_DIR ?? join(dataDir, "claude")),
    INSTANCE_ID: e.INSTANCE_ID ?? e.FLY_MACHINE_ID ?? hostname(),
    agentAuthEnv: Object.freeze(agentAuthEnv),
    modelUpstreamUrl: (agentAuthEnv.ANTHROPIC_BASE_URL ?? "https://api.anthropic.com").replace(/\/+$/, ""),
    notices,
  });
}

function isAesKey(value: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, "base64").length === 32;
}

function readOrCreateSecret(
  dataDir: string,
  file: string,
  make: () => string,
  generate: boolean,
  notices: { level: "info" | "warn"; msg: string }[],
  variable: string,
): string {
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const value = make();
  if (!generate) return value;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 }); // private when created here; an existing folder keeps its mode
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600); // the mode above is filtered by the umask
  } catch (err) {
    // Another process (a CLI command beside the server) created it first: use theirs.
    if (isErrnoCode(err, "EEXIST")) return readFileSync(path, "utf8").trim();
    throw new ConfigError([
      `${variable}: not set, and it could not be generated into ${path} (${describeFsError(err)}); set ${variable} or make DATA_DIR writable`,
    ]);
  }
  if (variable === "ADMIN_API_KEY") {
    // Printed once, on the start that created it, so the operator can copy it.
    notices.push({ level: "info", msg: `Generated ADMIN_API_KEY (stored in ${path}, shown only this once): ${value}` });
  } else {
    notices.push({ level: "info", msg: `Generated ${variable} into ${path}` });
  }
  return value;
}

function isErrnoCode(err: unknown, code: string): boolean {
  return err instanceof Error && "code" in err && err.code === code;
}

function describeFsError(err: unknown): string {
  return err instanceof Error && "code" in err && typeof err.code === "string" ? err.code : String(err);
}
