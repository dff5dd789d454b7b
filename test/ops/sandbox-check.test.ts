import { describe, expect, test } from "bun:test";
import type { Config } from "../../src/config.ts";
import { loadConfig } from "../../src/config.ts";
import { checkAgentSandbox, validateTenant } from "../../src/ops/validation.ts";
import { createTenant } from "../../src/tenants/index.ts";
import { useTestContext } from "../helpers/index.ts";

const t = useTestContext({}, { per: "file" });

const withSandbox = (mode: Config["AGENT_SANDBOX"]): Config => Object.freeze({ ...t.ctx.config, AGENT_SANDBOX: mode });
// Needs a working bubblewrap (as production with AGENT_SANDBOX=bwrap); that test is skipped where it cannot run.
const bwrapWorks =
  checkAgentSandbox(
    loadConfig(
      { ADMIN_API_KEY: "x".repeat(16), CREDENTIALS_KEY: Buffer.alloc(32).toString("base64") },
      { generateSecrets: false },
    ),
  ).status === "ok";

describe("the sandbox line of validate-tenant (issue 8 item 3)", () => {
  test("AGENT_SANDBOX=none: warn that tenants are not isolated", () => {
    const line = checkAgentSandbox(withSandbox("none"));
    expect(line.status).toBe("warn");
    expect(line.detail).toContain("AGENT_SANDBOX=none: agent runs are NOT isolated");
    expect(line.fix).toContain("AGENT_SANDBOX=bwrap");
  });

  test("auto without a working bwrap: warn, with how to install it", () => {
    const line = checkAgentSandbox(withSandbox("auto"), { bwrapPath: null });
    expect(line.status).toBe("warn");
    expect(line.detail).toContain("agent runs are NOT isolated (AGENT_SANDBOX=auto and bwrap is not installed)");
    expect(line.fix).toContain("apt-get install -y bubblewrap");
  });

  test("AGENT_SANDBOX=bwrap without a working bwrap: fail (the server refuses to start)", () => {
    const line = checkAgentSandbox(withSandbox("bwrap"), { bwrapPath: null });
    expect(line.status).toBe("fail");
    expect(line.detail).toBe(
      "AGENT_SANDBOX=bwrap but the sandbox does not work here: bwrap is not installed. The server refuses to start like this.",
    );
  });

  test("no agent CLI at all: a failed line, not a crash", () => {
    const line = checkAgentSandbox(withSandbox("auto"), { hostPath: "", searchRoots: [] });
    expect(line.status).toBe("fail");
    expect(line.detail).toContain(
      "No agent can run here (so the sandbox was not checked): The Claude Code CLI was not found",
    );
  });

  test.if(bwrapWorks)("bubblewrap working: ok", () => {
    expect(checkAgentSandbox(withSandbox("bwrap"))).toMatchObject({ status: "ok" });
  });

  test("validate-tenant shows the line (warn when off, the report still ok)", async () => {
    const tenant = await createTenant(t.ctx, { name: "Sandboxed", phone: "+18015550911", channel: "telegram" });
    const ctx = { ...t.ctx, config: withSandbox("none") };
    const report = await validateTenant(ctx, tenant.id, { healthChecks: false });
    const line = report.checks.find((c) => c.name === "sandbox");
    expect(line?.status).toBe("warn");
    expect(line?.detail).toContain("NOT isolated");
    expect(report.ok).toBe(true);
    const refused = await validateTenant({ ...t.ctx, config: withSandbox("bwrap") }, tenant.id, {
      healthChecks: false,
      sandbox: { bwrapPath: null },
    });
    expect(refused.checks.find((c) => c.name === "sandbox")?.status).toBe("fail");
    expect(refused.ok).toBe(false);
  });
});
