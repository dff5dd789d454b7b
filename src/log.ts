/** Log levels in increasing order of severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

/**
 * How lines are written: `json` = one JSON object per line (for log collectors; the default when output is
 * not a terminal); `pretty` = one human-readable line ("12:00:01.123 WARN  msg key=value"), the default on a TTY.
 */
export type LogFormat = "json" | "pretty";

/** LOG_FORMAT when set, else pretty on a terminal and JSON otherwise (a file, a pipe, a log collector). */
export function resolveLogFormat(
  requested: LogFormat | undefined,
  stream: { isTTY?: boolean } = process.stdout,
): LogFormat {
  return requested ?? (stream.isTTY ? "pretty" : "json");
}

/** A logger: a fixed message plus fields, one line each (JSON or pretty, see LogFormat). */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. */
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  /** Lowest level written. Default "info". */
  level?: LogLevel;
  /** Strings that must never be written (secrets); each is replaced by "[redacted]". */
  redact?: readonly string[];
  /** Where lines go. Default: stdout. */
  write?: (line: string) => void;
  /** Line format. Default: pretty when lines go to stdout (no `write`) and stdout is a terminal, else json. */
  format?: LogFormat;
}

/** Creates a logger (JSON lines, or readable lines on a terminal) that redacts the given secrets from every line it writes. */
export function createLogger(options: LoggerOptions = {}, base: LogFields = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const secrets = redactionForms(options.redact ?? []);
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const format = options.format ?? (options.write ? "json" : resolveLogFormat(undefined));

  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const time = new Date().toISOString();
    const all = { ...base, ...serializeFields(fields) };
    const line = format === "pretty" ? prettyLine(level, time, msg, all) : JSON.stringify({ level, time, msg, ...all });
    write(replaceAll(line, secrets));
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

/**
 * Values shorter than this are never redacted: they are not secrets worth the false positives
 * ("true", a port number). The one minimum for every redaction (logs, CLI errors, agent results,
 * tool output).
 */
export const MIN_SECRET_LENGTH = 6;

/**
 * Every form a secret can take inside a JSON line: as is, JSON-escaped, and percent-encoded (a
 * secret that travelled in a URL). Longest first, so a form containing another is caught whole.
 */
function redactionForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(encodeURIComponent(secret));
    forms.add(encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/**
 * Replaces every secret (and its JSON-escaped and percent-encoded forms) in `text` by
 * "[redacted]": for text that leaves the process some other way than the logger (CLI errors,
 * agent results, tool output). The one redaction helper; the logger applies the same forms to every line.
 */
export function redact(text: string, secrets: readonly string[]): string {
  return replaceAll(text, redactionForms(secrets));
}

function replaceAll(text: string, forms: readonly string[]): string {
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.split(form).join("[redacted]");
  return out;
}

/** "09:00:01.123 WARN  msg key=value other="two words"": time of day (UTC), level, message, then the fields. */
function prettyLine(level: LogLevel, time: string, msg: string, fields: LogFields): string {
  const parts = [`${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}`];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = typeof value === "string" && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
    parts.push(`${key}=${text}`);
  }
  return parts.join(" ");
}

/** A logger that writes nothing (unit tests). */
export const silentLogger: Logger = createLogger({ write: () => {} });

function serializeFields(fields: LogFields | undefined): LogFields {
  if (!fields) return {};
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) out[key] = value instanceof Error ? serializeError(value) : value;
  return out;
}

/** name and message, and the causes' (a few levels); the stack only where a caller logs it on purpose. */
function serializeError(err: Error, depth = 0): LogFields {
  const out: LogFields = { name: err.name, message: err.message };
  if ("code" in err && (typeof err.code === "string" || typeof err.code === "number")) out.code = err.code;
  if (err.cause instanceof Error && depth < 3) out.cause = serializeError(err.cause, depth + 1);
  else if (err.cause !== undefined && depth < 3) out.cause = String(err.cause);
  return out;
}
