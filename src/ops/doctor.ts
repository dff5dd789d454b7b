import { accessSync, constants, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ResolvedAgentCommand, SelfCheckItem } from "../agent/index.ts";
import { BWRAP_INSTALL_HINT, resolveAgentCommand, runSandboxSelfCheck } from "../agent/index.ts";
import { findAgentLogin } from "../agent/login.ts";
import type { Config } from "../config.ts";
import { ConfigError, loadConfig, platformSecrets } from "../config.ts";
import { migrationStatus, openDatabase, pingDatabase } from "../db/index.ts";
import { errorMessage } from "../errors.ts";
import { redact } from "../log.ts";
import { checkWarmPool } from "./warm-check.ts";

/** One line of `proxystaff doctor`: ok, warn (works, but look at it) or fail (something will not work). */
export interface DoctorCheck {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

export const ok = (name: string, detail: string): DoctorCheck => ({ name, status: "ok", detail });
export const warn = (name: string, detail: string, fix?: string): DoctorCheck => ({
  name,
  status: "warn",
  detail,
  fix,
});
export const fail = (name: string, detail: string, fix?: string): DoctorCheck => ({
  name,
  status: "fail",
  detail,
  fix,
});

/**
 * `proxystaff doctor`'s checks of the install this environment describes: the configuration (an invalid
 * one is a failed line, not a throw), then every check in the order an operator would fix them. Changes
 * nothing: no database is created or migrated, no secret generated, no platform called. Details and
 * fixes have the platform's secrets redacted; `config` is null when it did not load.
 */
export async function runDoctor(
  env: Record<string, string | undefined>,
  options: { isSandboxSkipped?: boolean } = {},
): Promise<{ config: Config | null; checks: DoctorCheck[] }> {
  let config: Config | null = null;
  let checks: DoctorCheck[];
  try {
    config = loadConfig(env, { generateSecrets: false });
    checks = await runChecks(config, env, options);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    checks = [
      fail(
        "config",
        `invalid: ${error.problems.join("; ")}`,
        "fix these environment variables (docs/operations.md lists them all)",
      ),
    ];
  }
  const secrets = config ? platformSecrets(config) : [];
  const safe = checks.map((c) => ({
    ...c,
    detail: redact(c.detail, secrets),
    ...(c.fix ? { fix: redact(c.fix, secrets) } : {}),
  }));
  return { config, checks: safe };
}

/** Every check, in the order an operator would fix them. */
async function runChecks(
  config: Config,
  env: Record<string, string | undefined>,
  options: { isSandboxSkipped?: boolean } = {},
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [
    ok(
      "config",
      `loaded (AGENT_SANDBOX=${config.AGENT_SANDBOX}, TELEGRAM_MODE=${config.TELEGRAM_MODE}, LOG_LEVEL=${config.LOG_LEVEL})`,
    ),
  ];
  for (const notice of config.notices)
    if (notice.level === "warn" && !notice.msg.startsWith("CREDENTIALS_KEY")) checks.push(warn("config", notice.msg));
  checks.push(
    ...checkSecrets(config, env),
    ...checkDirectories(config),
    ...(await checkDatabase(config)),
    ...checkAgentLogin(config),
  );
  const cli = await checkAgentCli(config, env.PATH);
  checks.push(cli.check, await checkPython(env.PATH));
  if (options.isSandboxSkipped) checks.push(warn("sandbox", "self-check skipped (--skip-sandbox)"));
  else if (cli.command) checks.push(...(await checkSandbox(config, cli.command)));
  else checks.push(fail("sandbox", "not checked: no agent CLI to run inside it", "fix the claude CLI line first"));
  checks.push(checkWarmPool(config));
  checks.push(...checkChannels(config));
  return checks;
}

/** ADMIN_API_KEY and CREDENTIALS_KEY: set, read from DATA_DIR, or still to be generated. */
export function checkSecrets(config: Config, env: Record<string, string | undefined>): DoctorCheck[] {
  const adminFile = join(config.DATA_DIR, "admin-api-key");
  const keyFile = join(config.DATA_DIR, "credentials-key");
  const admin = env.ADMIN_API_KEY
    ? ok("admin key", "ADMIN_API_KEY is set")
    : existsSync(adminFile)
      ? ok("admin key", `read from ${adminFile}`)
      : warn(
          "admin key",
          `ADMIN_API_KEY is not set and ${adminFile} does not exist yet`,
          "the first start generates one and prints it once; or set ADMIN_API_KEY (fly secrets set ADMIN_API_KEY=…)",
        );
  const vault = env.CREDENTIALS_KEY
    ? ok("credentials key", "CREDENTIALS_KEY is set")
    : warn(
        "credentials key",
        existsSync(keyFile)
          ? `CREDENTIALS_KEY is not set: the vault uses the generated key in ${keyFile}`
          : "CREDENTIALS_KEY is not set (the first start generates one into DATA_DIR)",
        "production sets CREDENTIALS_KEY as a secret, not a file beside the data it protects (`proxystaff rotate-credentials-key` moves the vault to a new key)",
      );
  return [admin, vault];
}

/** DATA_DIR and TENANTS_DIR exist and are writable (or can be created). */
export function checkDirectories(config: Config): DoctorCheck[] {
  return [
    checkDirectory("data directory", config.DATA_DIR, "DATA_DIR"),
    checkDirectory("tenants directory", config.TENANTS_DIR, "TENANTS_DIR"),
  ];
}

function checkDirectory(name: string, dir: string, variable: string): DoctorCheck {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory())
      return fail(name, `${dir} is not a directory`, `point ${variable} at a directory`);
    return isWritable(dir)
      ? ok(name, `${dir} (writable)`)
      : fail(name, `${dir} is not writable by this user`, `fix the owner or mode of ${dir}, or set ${variable}`);
  }
  const parent = nearestExisting(dir);
  return isWritable(parent)
    ? warn(
        name,
        `${dir} does not exist yet`,
        "created at the first start; on Fly it must be on the mounted volume (/data)",
      )
    : fail(
        name,
        `${dir} does not exist and ${parent} is not writable`,
        `create ${dir} or set ${variable} to a writable place`,
      );
}

/** The database answers, and its migrations match this build. Opens nothing new: a missing database file is reported, not created. */
export async function checkDatabase(config: Config): Promise<DoctorCheck[]> {
  const where = displayUrl(config.DATABASE_URL);
  const file = config.DATABASE_URL.startsWith("file:")
    ? config.DATABASE_URL.slice("file:".length).replace(/^\/\/(?=\/)/, "")
    : null;
  if (file && !existsSync(file)) {
    return [
      warn(
        "database",
        `no database yet at ${file}`,
        "`proxystaff migrate` (or the first start) creates it; on a deployment, check that DATA_DIR is on the volume",
      ),
    ];
  }
  let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
  try {
    database = await openDatabase(config.DATABASE_URL, { authToken: config.DATABASE_AUTH_TOKEN });
    if (!(await pingDatabase(database.db, 5000))) {
      return [
        fail(
          "database",
          `${where} does not answer`,
          "check DATABASE_URL (and DATABASE_AUTH_TOKEN for a remote libSQL database), and that the file is readable",
        ),
      ];
    }
    const checks = [ok("database", `${where} answers (${database.kind})`)];
    const status = await migrationStatus(database);
    if (status.isAhead) {
      checks.push(
        fail(
          "migrations",
          "the database was migrated by a newer ProxyStaff than this build",
          "deploy the newer build (downgrading the schema is not supported)",
        ),
      );
    } else if (status.pending > 0) {
      checks.push(
        warn(
          "migrations",
          `${status.pending} of ${status.total} not applied yet`,
          "run `proxystaff migrate` (the server also applies them at start)",
        ),
      );
    } else {
      checks.push(ok("migrations", `all ${status.total} applied`));
    }
    return checks;
  } catch (error) {
    return [
      fail(
        "database",
        `${where} could not be opened: ${errorMessage(error)}`,
        "check DATABASE_URL / DATABASE_AUTH_TOKEN and the file's permissions",
      ),
    ];
  } finally {
    await database?.close().catch(() => {}); // only a read check: nothing to lose
  }
}

/** The platform's Claude login: ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, or $CLAUDE_CONFIG_DIR/.credentials.json. */
export function checkAgentLogin(config: Config): DoctorCheck[] {
  const dir = config.CLAUDE_CONFIG_DIR;
  const checks: DoctorCheck[] = [];
  if (!existsSync(dir))
    checks.push(
      warn(
        "CLAUDE_CONFIG_DIR",
        `${dir} does not exist yet`,
        "created at the first agent run; it must be on the volume so sessions survive a redeploy",
      ),
    );
  else if (!isWritable(dir))
    checks.push(fail("CLAUDE_CONFIG_DIR", `${dir} is not writable`, `fix the owner or mode of ${dir}`));
  else checks.push(ok("CLAUDE_CONFIG_DIR", `${dir} (writable)`));

  checks.push(
    config.MODEL_GATEWAY === "on"
      ? ok("model gateway", "on: agents reach the model through /model/* with a per-run token; the login stays here")
      : warn(
          "model gateway",
          "off: every agent run holds the platform's model login in its environment",
          "set MODEL_GATEWAY=on (docs/security.md)",
        ),
  );
  const login = findAgentLogin(config);
  const hint =
    "set CLAUDE_CODE_OAUTH_TOKEN (from `claude setup-token`, plan login) or ANTHROPIC_API_KEY, or run `claude /login` with CLAUDE_CONFIG_DIR set (docs/agent.md)";
  const baseUrl = config.agentAuthEnv.ANTHROPIC_BASE_URL;
  switch (login.kind) {
    case "api_key":
      checks.push(
        login.isBothSet
          ? warn(
              "agent login",
              "both ANTHROPIC_API_KEY and CLAUDE_CODE_OAUTH_TOKEN are set: the CLI uses the API key",
              "unset the one you do not mean (a plan login: unset ANTHROPIC_API_KEY)",
            )
          : ok("agent login", `ANTHROPIC_API_KEY is set${baseUrl ? ` (API at ${baseUrl})` : ""}`),
      );
      break;
    case "oauth_token":
      checks.push(ok("agent login", "CLAUDE_CODE_OAUTH_TOKEN is set (plan login)"));
      break;
    case "credentials_file":
      checks.push(
        config.MODEL_GATEWAY === "on"
          ? fail(
              "agent login",
              `login file ${login.file} is not used with MODEL_GATEWAY=on`,
              "run `claude setup-token` and set CLAUDE_CODE_OAUTH_TOKEN (docs/agent.md)",
            )
          : ok(
              "agent login",
              `login file ${login.file} (copied read-only into each run; prefer CLAUDE_CODE_OAUTH_TOKEN)`,
            ),
      );
      break;
    case "credentials_file_unrecognised":
      checks.push(
        warn(
          "agent login",
          `${login.file} has no claudeAiOauth.accessToken (a newer CLI format?)`,
          `if runs fail to log in: ${hint}`,
        ),
      );
      break;
    case "credentials_file_unreadable":
      checks.push(fail("agent login", `${login.file} cannot be read as JSON (${login.reason})`, hint));
      break;
    case "missing":
      checks.push(
        fail(
          "agent login",
          "no login: neither ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN nor a .credentials.json in CLAUDE_CONFIG_DIR",
          hint,
        ),
      );
      break;
  }
  return checks;
}

/** Which channels the server will run (the same rules as createChannels), without calling the platforms. */
export function checkChannels(config: Config): DoctorCheck[] {
  const lines: DoctorCheck[] = [];
  if (!config.TELEGRAM_BOT_TOKEN) lines.push(warn("telegram", "off: TELEGRAM_BOT_TOKEN is not set"));
  else if (config.TELEGRAM_MODE === "off") lines.push(warn("telegram", "off: TELEGRAM_MODE=off"));
  else if (config.TELEGRAM_MODE === "polling") lines.push(ok("telegram", "on (polling getUpdates)"));
  else if (!config.PUBLIC_URL)
    lines.push(
      warn(
        "telegram",
        "webhook mode but PUBLIC_URL is not set: the webhook is not registered",
        "set PUBLIC_URL (https://your-app.fly.dev) or TELEGRAM_MODE=polling",
      ),
    );
  else lines.push(ok("telegram", `on (webhook ${config.PUBLIC_URL}/webhooks/telegram)`));

  const twilio = (["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM"] as const).filter(
    (n) => !config[n],
  );
  if (twilio.length === 3)
    lines.push(warn("whatsapp", "off: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_FROM are not set"));
  else if (twilio.length > 0)
    lines.push(
      warn(
        "whatsapp",
        `off: ${twilio.join(", ")} not set (the other Twilio variables are)`,
        "set all three Twilio variables, or none",
      ),
    );
  else if (!config.PUBLIC_URL)
    lines.push(
      warn(
        "whatsapp",
        "sending only: PUBLIC_URL is not set, so inbound Twilio signatures cannot be checked",
        "set PUBLIC_URL",
      ),
    );
  else lines.push(ok("whatsapp", `on (webhook ${config.PUBLIC_URL}/webhooks/whatsapp)`));

  const anyOn = lines.some(
    (l) => l.status === "ok" || l.detail.startsWith("webhook mode") || l.detail.startsWith("sending only"),
  );
  if (!anyOn)
    lines.push(
      fail(
        "channels",
        "no channel is on: customers cannot reach their agent",
        "set TELEGRAM_BOT_TOKEN, or the three TWILIO_* variables (docs/channels.md)",
      ),
    );
  // A channel deliberately off is fine while another one is on.
  return lines.map((l) =>
    anyOn && l.status === "warn" && l.detail.startsWith("off:") && !l.fix ? ok(l.name, l.detail) : l,
  );
}

/** The URL without credentials or query (tokens never reach the output). */
export function displayUrl(url: string): string {
  if (url.startsWith("file:")) return url;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return "(DATABASE_URL)";
  }
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function nearestExisting(path: string): string {
  let current = dirname(path);
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

const VERSION_TIMEOUT_MS = 20_000;

/** The agent CLI as the server would find it, and its --version (run outside any sandbox, in a scratch HOME). */
export async function checkAgentCli(
  config: Config,
  path: string | undefined,
): Promise<{ check: DoctorCheck; command: ResolvedAgentCommand | null }> {
  let command: ResolvedAgentCommand;
  try {
    command = resolveAgentCommand(config.AGENT_COMMAND, { path });
  } catch (error) {
    return {
      check: fail(
        "claude CLI",
        errorMessage(error),
        "install it (`npm install` brings @anthropic-ai/claude-code) or set AGENT_COMMAND",
      ),
      command: null,
    };
  }
  const scratch = mkdtempSync(join(tmpdir(), "proxystaff-doctor-cli-"));
  try {
    const env = {
      PATH: path ?? "/usr/bin:/bin",
      HOME: scratch,
      CLAUDE_CONFIG_DIR: scratch,
      DISABLE_AUTOUPDATER: "1",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    };
    const result = await runWithTimeout([command.path, "--version"], env, VERSION_TIMEOUT_MS);
    if (result.exitCode !== 0) {
      const why =
        result.exitCode === null
          ? `no answer within ${VERSION_TIMEOUT_MS / 1000} s`
          : `exit ${result.exitCode}: ${firstLine(result.stderr || result.stdout)}`;
      return {
        check: fail(
          "claude CLI",
          `${command.path} --version failed (${why})`,
          "reinstall the CLI (`npm install`), or point AGENT_COMMAND at a working one",
        ),
        command,
      };
    }
    return {
      check: ok("claude CLI", `${firstLine(result.stdout)} at ${command.path} (from ${command.source})`),
      command,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** python3 on PATH (tenants' execution/ tools are Python scripts). */
export async function checkPython(path: string | undefined): Promise<DoctorCheck> {
  const python = Bun.which("python3", { PATH: path ?? "/usr/bin:/bin" });
  if (!python)
    return fail(
      "python3",
      "python3 is not on PATH: tenants' execution/ tools cannot run",
      "install it (Debian/Ubuntu: `apt-get install -y python3`)",
    );
  const result = await runWithTimeout([python, "--version"], { PATH: path ?? "/usr/bin:/bin" }, VERSION_TIMEOUT_MS);
  if (result.exitCode !== 0) return fail("python3", `${python} --version failed`, "reinstall python3");
  return ok("python3", `${firstLine(result.stdout || result.stderr)} at ${python}`);
}

// Items of the self-check that must work whether or not runs are isolated; the rest are isolation.
const FUNCTIONAL_ITEMS = new Set([
  "own workspace writable",
  "python3 runs (execution/ tools)",
  "agent CLI starts inside",
  "probe inside the sandbox",
  "tenant uids reach their folders",
]);

/**
 * The agent module's isolation self-check (a probe inside exactly the sandbox a run gets), as doctor lines.
 * With isolation off by choice (AGENT_SANDBOX=none) or as the auto fallback, the isolation items are warnings
 * (the server runs, loudly unisolated); with bubblewrap on, any isolation gap is a failure.
 */
export async function checkSandbox(config: Config, command: ResolvedAgentCommand): Promise<DoctorCheck[]> {
  let items: SelfCheckItem[];
  try {
    items = await runSandboxSelfCheck({ config }, { command });
  } catch (error) {
    return [fail("sandbox self-check", errorMessage(error), "see docs/security.md (Verify it on a deployment)")];
  }
  const sandboxItem = items.find((i) => i.name.startsWith("sandbox"));
  const isIsolated = sandboxItem?.ok === true;
  const lines: DoctorCheck[] = [];
  for (const item of items) {
    if (item.name === "agent CLI found") continue; // reported by the claude CLI line
    const name = item.name.startsWith("sandbox") ? item.name : `sandbox: ${item.name}`;
    if (item.ok) lines.push(ok(name, item.detail));
    else if (item === sandboxItem) lines.push(sandboxLine(config, name, item.detail));
    else if (item.name.startsWith("process and memory caps")) {
      lines.push(
        warn(
          name,
          item.detail,
          "run where the server can create cgroups (Fly machines can), or set AGENT_MEMORY_MB and accept RLIMIT-only caps",
        ),
      );
    } else if (FUNCTIONAL_ITEMS.has(item.name) || isIsolated)
      lines.push(
        fail(name, item.detail, "a run will not work like this: see docs/security.md (Verify it on a deployment)"),
      );
    else lines.push(warn(name, item.detail, "follows from the sandbox being off"));
  }
  return lines;
}

function sandboxLine(config: Config, name: string, detail: string): DoctorCheck {
  if (config.AGENT_SANDBOX === "bwrap")
    return fail(name, detail, `the server refuses to start like this. ${BWRAP_INSTALL_HINT}`);
  if (config.AGENT_SANDBOX === "none") return warn(name, detail, "production sets AGENT_SANDBOX=bwrap");
  return warn(
    name,
    detail,
    `${BWRAP_INSTALL_HINT} Then set AGENT_SANDBOX=bwrap so the server never starts unisolated.`,
  );
}

async function runWithTimeout(
  argv: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const child = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return { exitCode: timedOut ? null : exitCode, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0]?.slice(0, 200) ?? "";
}
