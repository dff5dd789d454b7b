import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Config } from "../config.ts";
import type { AppContext } from "../context.ts";
import { errorMessage } from "../errors.ts";
import type { ResolvedAgentCommand } from "./command.ts";
import { resolveAgentCommand } from "./command.ts";
import { buildAgentEnv } from "./environment.ts";
import { PROBE_UID, runAsArgs, serverFoldersOnTheWay, unreachableFolders } from "./run-user.ts";
import type { PreparedRun, SandboxStatus, WrapInput } from "./sandbox.ts";
import { checkSandbox, givePrivateScratch, sandboxWrapper } from "./sandbox.ts";

/** One line of the isolation checklist (`proxystaff doctor`). */
export interface SelfCheckItem {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SelfCheckOptions {
  /** Use this sandbox decision (e.g. the running runner's); default: decided now like at start. */
  sandbox?: SandboxStatus;
  command?: ResolvedAgentCommand;
  /** Wraps the probe instead of the sandbox's own wrapper (tests hand in a weakened one to see the check fail). */
  wrap?: (run: WrapInput) => PreparedRun;
}

/**
 * Runs the isolation self-check on this install: a probe shell inside exactly the sandbox a tenant's run gets
 * (scratch workspace and CLI directory) tries to read DATA_DIR, TENANTS_DIR, the server's /proc entry and the
 * platform's secrets, and checks its own workspace is writable, the rest (and /proc/sys) read-only, its uid is
 * not 0, python3 runs, and the CLI starts. Every item says what it saw; nothing here needs the network or the model API.
 */
export async function runSandboxSelfCheck(
  ctx: Pick<AppContext, "config">,
  options: SelfCheckOptions = {},
): Promise<SelfCheckItem[]> {
  const { config } = ctx;
  const items: SelfCheckItem[] = [];
  let command: ResolvedAgentCommand;
  try {
    command = options.command ?? resolveAgentCommand(config.AGENT_COMMAND, { path: process.env.PATH });
    items.push({ name: "agent CLI found", ok: true, detail: `${command.path} (from ${command.source})` });
  } catch (error) {
    items.push({ name: "agent CLI found", ok: false, detail: errorMessage(error) });
    return items;
  }
  let sandbox: SandboxStatus;
  try {
    sandbox = options.sandbox ?? checkSandbox(config, command, { hostPath: process.env.PATH });
  } catch (error) {
    items.push({ name: "sandbox (bubblewrap) works", ok: false, detail: errorMessage(error) });
    return items;
  }
  items.push({
    name: "sandbox (bubblewrap) works",
    ok: sandbox.mode === "bwrap",
    detail: sandbox.mode === "bwrap" ? `every run is wrapped by ${sandbox.bwrapPath}` : (sandbox.warning ?? "off"),
  });
  items.push({
    name: "process and memory caps",
    ok: sandbox.cgroups !== null || process.getuid?.() !== 0,
    detail: `max ${sandbox.limits.maxProcesses} processes per run${sandbox.limits.memoryMb ? `, ${sandbox.limits.memoryMb} MiB` : ", no memory cap (AGENT_MEMORY_MB=off)"}; ${
      sandbox.cgroups
        ? `enforced by cgroup v${sandbox.cgroups.version}`
        : "RLIMIT only (not enforced for root without a cgroup)"
    }`,
  });
  items.push(...(await probeInside(config, command, sandbox, options.wrap ?? sandboxWrapper(sandbox))));
  if (sandbox.runUser.kind === "tenant-uid") {
    // The server makes its own folders 0711 at start; the operator's folders above them must let a tenant's uid by.
    const own = serverFoldersOnTheWay(config);
    const above = [...new Set(own.map((dir) => dirname(dir)).filter((dir) => !own.includes(dir)))].filter((dir) =>
      existsSync(dir),
    );
    const blocked = unreachableFolders(sandbox.runUser, above);
    items.push({
      name: "tenant uids reach their folders",
      ok: blocked.length === 0,
      detail:
        blocked.length === 0
          ? `the folders above DATA_DIR, CLAUDE_CONFIG_DIR and TENANTS_DIR let a tenant's uid pass (${above.join(", ")})`
          : `a tenant's uid cannot pass ${blocked.join(", ")}: every run would fail (chmod o+x on it and the folders above it)`,
    });
  }
  return items;
}

async function probeInside(
  config: Config,
  command: ResolvedAgentCommand,
  sandbox: SandboxStatus,
  wrap: (run: WrapInput) => PreparedRun,
): Promise<SelfCheckItem[]> {
  const scratch = mkdtempSync(join(tmpdir(), "proxystaff-doctor-"));
  const workspace = join(scratch, "workspace");
  const configDir = join(scratch, "config");
  mkdirSync(workspace);
  mkdirSync(configDir);
  // The probe runs as a uid of its own, like a tenant's run (never a real tenant's, so it touches none of theirs).
  if (runAsArgs(sandbox.runUser, PROBE_UID).length > 0) givePrivateScratch(scratch, [workspace, configDir], PROBE_UID);
  const databaseFile = config.DATABASE_URL.startsWith("file:")
    ? config.DATABASE_URL.slice("file:".length)
    : join(config.DATA_DIR, "proxystaff.db");
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const script = [
    `if ls -A ${q(config.TENANTS_DIR)} 2>/dev/null | grep -q .; then echo tenants=visible; else echo tenants=hidden; fi`,
    // -r, not -e: DATA_DIR is 0711 for the runs' CLI directories, so a run may see that a file exists but not read it.
    `if [ -r ${q(databaseFile)} ] || [ -r ${q(join(config.DATA_DIR, "admin-api-key"))} ] || [ -r ${q(join(config.DATA_DIR, "credentials-key"))} ]; then echo data=visible; else echo data=hidden; fi`,
    `if cat /proc/${process.pid}/environ >/dev/null 2>&1; then echo serverproc=visible; else echo serverproc=hidden; fi`,
    `if [ -n "$ADMIN_API_KEY$CREDENTIALS_KEY$TELEGRAM_BOT_TOKEN$TWILIO_AUTH_TOKEN$DATABASE_AUTH_TOKEN" ]; then echo secrets=visible; else echo secrets=hidden; fi`,
    `if echo ok > ./doctor-probe.txt 2>/dev/null; then echo workspace=writable; else echo workspace=readonly; fi`,
    // A probe file that does get created (no sandbox, as root) is removed again at once.
    `if touch /usr/.proxystaff-doctor-probe 2>/dev/null; then rm -f /usr/.proxystaff-doctor-probe; echo system=writable; else echo system=readonly; fi`,
    `if command -v python3 >/dev/null 2>&1; then python3 -c 'print("python=ok")' 2>&1 | tail -1; else echo python=missing; fi`,
    `if ${q(command.path)} --version >/dev/null 2>&1; then echo cli=ok; else echo cli=failed; fi`,
    `echo caps=$(awk '/^CapEff/ {print $2}' /proc/self/status)`,
    `echo uid=$(id -u)`,
    // access(2) only: the check must never write the host's core_pattern when it is writable.
    `if [ -w /proc/sys/kernel/core_pattern ]; then echo procsys=writable; else echo procsys=readonly; fi`,
  ].join("\n");
  try {
    const { env } = buildAgentEnv({
      config,
      hostEnv: process.env,
      tenantConfigDir: configDir,
      timezone: "UTC",
      tenantEnv: {},
    });
    const prepared = wrap({
      argv: ["/bin/sh", "-c", script],
      workspace,
      tenantConfigDir: configDir,
      platformCredentials: null,
      command,
      uid: PROBE_UID,
    });
    const child = Bun.spawn(prepared.argv, { cwd: workspace, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const out = await new Response(child.stdout).text();
    await child.exited;
    clearTimeout(timer);
    prepared.dispose();
    const seen = Object.fromEntries(
      out
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => l.split("=", 2) as [string, string]),
    );
    const persisted =
      existsSync(join(workspace, "doctor-probe.txt")) &&
      readFileSync(join(workspace, "doctor-probe.txt"), "utf8").trim() === "ok";
    const item = (name: string, ok: boolean, detail: string): SelfCheckItem => ({ name, ok, detail });
    return [
      item(
        "other tenants' folders hidden",
        seen.tenants === "hidden",
        `TENANTS_DIR ${config.TENANTS_DIR} is ${seen.tenants ?? "unknown"} to a run`,
      ),
      item(
        "database and keys hidden",
        seen.data === "hidden",
        `DATA_DIR ${config.DATA_DIR} files are ${seen.data ?? "unknown"} to a run`,
      ),
      item(
        "server process hidden",
        seen.serverproc === "hidden",
        `/proc/${process.pid} (this server) is ${seen.serverproc ?? "unknown"} to a run`,
      ),
      item(
        "platform secrets absent",
        seen.secrets === "hidden",
        `ADMIN_API_KEY, CREDENTIALS_KEY, bot and Twilio tokens: ${seen.secrets ?? "unknown"}`,
      ),
      item(
        "own workspace writable",
        seen.workspace === "writable" && persisted,
        persisted ? "a file written inside is on the host" : "a file written inside did not reach the host",
      ),
      item(
        "system files read-only",
        seen.system === "readonly",
        `/usr and /etc are ${seen.system ?? "unknown"} to a run`,
      ),
      item(
        "python3 runs (execution/ tools)",
        seen.python === "ok",
        seen.python === "ok" ? "python3 from /usr runs inside" : `python3: ${seen.python ?? "unknown"}`,
      ),
      item("agent CLI starts inside", seen.cli === "ok", `${command.path} --version: ${seen.cli ?? "unknown"}`),
      item(
        "runs as an unprivileged uid",
        seen.uid !== undefined && seen.uid !== "" && seen.uid !== "0",
        `uid ${seen.uid ?? "unknown"} inside${seen.uid === "0" ? " (root: the server could not switch uid — see the start-up warning)" : ""}`,
      ),
      item(
        "/proc/sys read-only",
        seen.procsys === "readonly",
        `/proc/sys/kernel/core_pattern is ${seen.procsys ?? "unknown"} from a run (writable = a run can make the host kernel execute its files as root)`,
      ),
      item(
        "no capabilities inside",
        /^0+$/.test(seen.caps ?? ""),
        `effective capabilities ${seen.caps ?? "unknown"} (root without them cannot mknod a disk or change the network)`,
      ),
    ];
  } catch (error) {
    return [{ name: "probe inside the sandbox", ok: false, detail: errorMessage(error) }];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
