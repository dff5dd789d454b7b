import { afterAll, describe, expect, test } from "bun:test";
import { lstatSync } from "node:fs";
import {
  checkSandbox,
  createAgentRunner,
  resolveAgentCommand,
  SandboxUnavailableError,
} from "../../src/agent/index.ts";
import type { SpawnSpec } from "../../src/agent/runner.ts";
import { spawnProcessGroup } from "../../src/agent/runner.ts";
import { bwrapArgs, sandboxHealth } from "../../src/agent/sandbox.ts";
import { skipWithoutBwrap } from "../helpers/index.ts";
import { agentSetup, STAND_IN } from "./setup.ts";

const mounts = {
  workspace: "/srv/tenants/aaaa",
  tenantConfigDir: "/data/claude/tenants/aaaa",
  platformCredentials: "/data/claude/.credentials.json",
  cliFiles: "/app/node_modules/@anthropic-ai/claude-code",
};

describe("bwrapArgs", () => {
  const args = bwrapArgs(mounts);
  const joined = args.join(" ");
  test("system read-only, /bin and friends as on the host, selected /etc files only", () => {
    expect(joined).toContain("--ro-bind /usr /usr");
    const bin = lstatSync("/bin");
    if (bin.isSymbolicLink()) expect(joined).toMatch(/--symlink \S+ \/bin/);
    else expect(joined).toContain("--ro-bind /bin /bin");
    expect(joined).not.toContain("--ro-bind /etc /etc");
    expect(joined).not.toMatch(/--ro-bind \/etc\/(shadow|gshadow|sudoers)/);
  });
  test("workspace and CLI directory read-write, the login and CLI read-only, private /tmp, root read-only last", () => {
    expect(joined).toContain(`--bind ${mounts.workspace} ${mounts.workspace}`);
    expect(joined).toContain(`--bind ${mounts.tenantConfigDir} ${mounts.tenantConfigDir}`);
    expect(joined).toContain(`--ro-bind ${mounts.platformCredentials} ${mounts.tenantConfigDir}/.credentials.json`);
    expect(joined).toContain(`--ro-bind ${mounts.cliFiles} ${mounts.cliFiles}`);
    expect(args.indexOf("--tmpfs")).toBeLessThan(args.indexOf("--bind"));
    expect(args.indexOf("--remount-ro")).toBeGreaterThan(args.lastIndexOf("--bind"));
    expect(joined).toContain(`--chdir ${mounts.workspace}`);
  });
  test("own PID/IPC namespaces, new session, dies with the parent; network shared; no env on the command line", () => {
    for (const flag of ["--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session", "--proc", "--dev"])
      expect(args).toContain(flag);
    expect(joined).toContain("--cap-drop ALL");
    expect(args).not.toContain("--unshare-net");
    expect(args).not.toContain("--unshare-all");
    expect(args).not.toContain("--setenv");
    expect(joined).not.toContain("/data/proxystaff");
  });
});

describe("checkSandbox", () => {
  const setups = ["none", "auto", "bwrap"].map((mode) => agentSetup({ AGENT_SANDBOX: mode }));
  afterAll(() => setups.forEach((s) => s.cleanup()));
  const command = resolveAgentCommand(STAND_IN);
  const [none, auto, required] = setups.map((s) => s.config);

  test("none: off with a plain warning", () => {
    const status = checkSandbox(none!, command);
    expect(status).toMatchObject({ requested: "none", mode: "off" });
    expect(status.warning).toContain("NOT isolated");
    expect(sandboxHealth(status)).toEqual({
      fields: { sandbox: "off", sandbox_warning: status.warning },
      degraded: false,
    });
  });
  test("auto without bubblewrap: off, loud, with install instructions", () => {
    const status = checkSandbox(auto!, command, { bwrapPath: null });
    expect(status.mode).toBe("off");
    expect(status.warning).toContain("apt-get install -y bubblewrap");
    const broken = checkSandbox(auto!, command, { bwrapPath: "/bin/false" });
    expect(broken.mode).toBe("off");
    expect(broken.warning).toContain("bwrap failed");
  });
  test("bwrap required but missing: refuses, saying how to install it", () => {
    expect(() => checkSandbox(required!, command, { bwrapPath: null })).toThrow(SandboxUnavailableError);
    expect(() => checkSandbox(required!, command, { bwrapPath: null })).toThrow(/apt-get install -y bubblewrap/);
  });
  test.skipIf(skipWithoutBwrap("bwrap present: on"))("bwrap present: on, and /health says so", () => {
    const status = checkSandbox(auto!, command);
    expect(status.mode).toBe("bwrap");
    expect(sandboxHealth(status).fields).toEqual({ sandbox: "bwrap" });
  });
});

describe.skipIf(skipWithoutBwrap("a sandboxed run"))("a sandboxed run", () => {
  const setup = agentSetup({ AGENT_SANDBOX: "bwrap", AGENT_COMMAND: STAND_IN }, undefined, "/var/tmp");
  afterAll(() => setup.cleanup());
  test("tenant secrets travel in the environment, never on bwrap's command line", async () => {
    const specs: SpawnSpec[] = [];
    const runner = createAgentRunner(
      { config: setup.config, log: setup.log },
      { spawn: (spec) => (specs.push(spec), spawnProcessGroup(spec)) },
    );
    const result = await runner.run(
      setup.request("tenant-x", "hi", { tenantEnv: { STAND_IN_MODE: "env", SENDGRID_API_KEY: "SG.secret-in-env" } }),
    );
    expect(result.kind).toBe("ok");
    if (result.kind === "ok") expect(result.text).toContain("SENDGRID_API_KEY=SG.secret-in-env");
    expect(specs[0]?.argv).toContain("--unshare-pid");
    expect(specs[0]?.argv.join(" ")).not.toContain("SG.secret-in-env");
  });
});
