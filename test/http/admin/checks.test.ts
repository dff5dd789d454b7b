import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "bun";
import { sql } from "drizzle-orm";
import { DEFAULT_MAX_PROCESSES, detectCgroups } from "../../../src/agent/limits.ts";
import { toolSandbox } from "../../../src/agent/tool-sandbox.ts";
import type { Config } from "../../../src/config.ts";
import { loadConfig } from "../../../src/config.ts";
import { runServerSideToolChecks, runToolHealthChecks } from "../../../src/ops/tool-health.ts";
import { tenantUid, workspacePath } from "../../../src/tenants/index.ts";
import type { Json } from "./setup.ts";
import { adminHarness, UNKNOWN_ID, useAdminHarness } from "./setup.ts";

/** A path inside a tenant's workspace (tests write there directly). */
function inWorkspace(tenantId: string, relativePath: string): string {
  return join(workspacePath(h.t.ctx.config, tenantId), relativePath);
}

const bwrapWorks =
  toolSandbox(
    loadConfig(
      { ADMIN_API_KEY: "x".repeat(16), CREDENTIALS_KEY: Buffer.alloc(32).toString("base64") },
      { generateSecrets: false },
    ),
  ).mode === "bwrap";
if (!bwrapWorks)
  console.warn(
    "skipped (tool checks under bubblewrap): bubblewrap does not work here (not installed, or no user namespaces)",
  );
const GOOD_KEY = "SG.good-key-0123456789abcdef";

// A loopback SendGrid: GET /v3/scopes answers 200 for GOOD_KEY, 401 otherwise.
let sendgrid: Server<unknown>;
beforeAll(() => {
  sendgrid = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const ok = req.headers.get("authorization") === `Bearer ${GOOD_KEY}`;
      return ok
        ? Response.json({ scopes: ["mail.send"] })
        : Response.json({ errors: [{ message: "unauthorized" }] }, { status: 401 });
    },
  });
});
afterAll(() => sendgrid.stop(true));

const h = useAdminHarness(() => ({ env: { SENDGRID_API_BASE: `http://127.0.0.1:${sendgrid.port}` } }));

const byName = (checks: Json[], name: string): Json => checks.find((c) => c.name === name) as Json;

describe("GET /admin/tenants/:id/validate", () => {
  test("a fresh tenant: no failures; link and credentials warn with fix hints", async () => {
    const tenant = await h.tenant();
    const { status, body } = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/validate`);
    expect(status).toBe(200);
    expect(body.ok).toBe(true);
    expect(body.counts.fail).toBe(0);
    for (const name of [
      "record",
      "phone",
      "timezone",
      "workspace",
      "CLAUDE.md",
      "tool:send_email.py",
      "tool:env_loader.py",
      "session",
    ]) {
      expect(byName(body.checks, name)?.status).toBe("ok");
    }
    expect(byName(body.checks, "link")).toMatchObject({ status: "warn" });
    expect(byName(body.checks, "link").fix).toContain(`/start ${tenant.phone_number}`);
    expect(byName(body.checks, "credentials:send_email.py")).toMatchObject({ status: "warn" });
    // The script never gets the key (it is server-side only); the MCP tool's line says what is missing.
    expect(byName(body.checks, "health:send_email.py")).toMatchObject({
      status: "ok",
      detail: expect.stringContaining("sent server-side"),
    });
    expect(byName(body.checks, "send_email (server-side)")).toMatchObject({
      status: "warn",
      detail: "SENDGRID_API_KEY is not set for this tenant.",
    });
  });

  test("credentials set and linked: health checks pass; a missing tool and a held lease are reported", async () => {
    const tenant = await h.tenant();
    await h.call("POST", `/admin/tenants/${tenant.id}/credentials`, { credentials: { SENDGRID_API_KEY: GOOD_KEY } });
    await h.call("POST", `/admin/tenants/${tenant.id}/link`, { telegram_chat_id: "77" });
    await h.call("PATCH", `/admin/tenants/${tenant.id}`, { business: { email: "owner@acme.test" } });
    const good = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/validate`);
    expect(byName(good.body.checks, "health:send_email.py").status).toBe("ok");
    expect(byName(good.body.checks, "send_email (server-side)")).toMatchObject({
      status: "ok",
      detail: expect.stringContaining("owner@acme.test"),
    });
    expect(byName(good.body.checks, "credentials:send_email.py").status).toBe("ok");

    rmSync(inWorkspace(tenant.id, "execution/send_email.py"));
    const broken = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/validate?health=false`);
    expect(broken.body.ok).toBe(false);
    expect(byName(broken.body.checks, "tool:send_email.py")).toMatchObject({
      status: "fail",
      fix: `proxystaff init-tenant ${tenant.id}`,
    });
    expect(byName(broken.body.checks, "health:send_email.py")).toBeUndefined();
  });

  test("wrong credential: the server-side send_email check fails without echoing the key", async () => {
    const tenant = await h.tenant();
    await h.call("POST", `/admin/tenants/${tenant.id}/credentials`, {
      credentials: { SENDGRID_API_KEY: "SG.wrong-key-zzzzzzzzzz" },
    });
    const res = await h.call("GET", `/admin/tenants/${tenant.id}/validate`);
    const text = await res.text();
    expect(text).not.toContain("SG.wrong-key-zzzzzzzzzz");
    const body = JSON.parse(text) as Json;
    expect(body.ok).toBe(false);
    expect(byName(body.checks, "send_email (server-side)")).toMatchObject({
      status: "fail",
      detail: "SendGrid refused the key (HTTP 401).",
    });
  });

  test("archived tenant fails; unknown → 404; bad id → 400", async () => {
    const tenant = await h.tenant();
    await h.call("DELETE", `/admin/tenants/${tenant.id}`);
    const archived = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/validate?health=false`);
    expect(byName(archived.body.checks, "record").status).toBe("fail");
    expect((await h.json("GET", `/admin/tenants/${UNKNOWN_ID}/validate`)).status).toBe(404);
    expect((await h.json("GET", "/admin/tenants/zzz/validate")).status).toBe(400);
    expect((await h.json("GET", `/admin/tenants/${tenant.id}/validate?health=maybe`)).status).toBe(400);
  });
});

describe("POST /admin/tools/health-check", () => {
  test("every ACTIVE tenant without a body; one tenant with tenant_id; secrets redacted", async () => {
    const a = await h.tenant();
    const b = await h.tenant();
    const archived = await h.tenant();
    await h.call("DELETE", `/admin/tenants/${archived.id}`);
    await h.call("POST", `/admin/tenants/${a.id}/credentials`, {
      credentials: { SENDGRID_API_KEY: GOOD_KEY, LEAKY_SECRET: "hunter2-very-secret" },
    });
    // An operator-added tool that prints its secret: the output must come back redacted.
    writeFileSync(
      inWorkspace(a.id, "execution/leaky.py"),
      'import os, sys\nif "--health-check" in sys.argv:\n    print("failed: token is " + os.environ.get("LEAKY_SECRET", "?"))\n    sys.exit(1)\n',
    );

    const res = await h.call("POST", "/admin/tools/health-check");
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain("hunter2-very-secret");
    expect(text).not.toContain(GOOD_KEY);
    const all = JSON.parse(text) as Json;
    expect(all.tenants.map((t: Json) => t.tenant_id).sort()).toEqual([a.id, b.id].sort());
    const ta = all.tenants.find((t: Json) => t.tenant_id === a.id);
    expect(ta.tools.map((t: Json) => [t.tool, t.status])).toEqual([
      ["env_loader.py", "ok"],
      ["leaky.py", "failed"],
      ["send_email.py", "ok"],
      ["send_email (server-side)", "warn"], // key accepted, but no sender address
    ]);
    expect(ta.tools[1].output).toBe("failed: token is [redacted]");
    expect(all.ok).toBe(false);

    const one = await h.json<Json>("POST", "/admin/tools/health-check", { tenant_id: b.id });
    expect(one.status).toBe(200);
    expect(one.body.tenants).toHaveLength(1);
    expect(one.body.tenants[0].tools.find((t: Json) => t.tool === "send_email.py").output).toContain(
      "email is sent server-side",
    );
    expect(one.body.tenants[0].tools.find((t: Json) => t.tool === "send_email (server-side)")).toMatchObject({
      status: "warn",
      output: "SENDGRID_API_KEY is not set for this tenant.",
    });
    expect(one.body.ok).toBe(true);
  });

  test("the body is optional: an empty body with Content-Type: application/json means every tenant", async () => {
    const tenant = await h.tenant();
    for (const body of ["", "  \n"]) {
      const res = await h.call("POST", "/admin/tools/health-check", body, { "content-type": "application/json" });
      expect(res.status).toBe(200);
      const report = (await res.json()) as Json;
      expect(report.tenants.map((t: Json) => t.tenant_id)).toEqual([tenant.id]);
    }
    expect((await h.call("POST", "/admin/tools/health-check", "{}")).status).toBe(200);
  });

  test("unknown tenant → 404; bad tenant_id or extra field → 400; broken JSON → 400", async () => {
    expect((await h.json("POST", "/admin/tools/health-check", { tenant_id: UNKNOWN_ID })).status).toBe(404);
    const bad = await h.json<Json>("POST", "/admin/tools/health-check", { tenant_id: "../../etc" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("tenant_id:");
    expect((await h.json("POST", "/admin/tools/health-check", { tenant: "x" })).status).toBe(400);
    expect((await h.call("POST", "/admin/tools/health-check", "{")).status).toBe(400);
  });
});

describe("runToolHealthChecks", () => {
  // Finding S1: tool checks run code the agent can edit, so they run like agent runs — as the tenant's own uid.
  const isRoot = process.getuid?.() === 0;
  test.skipIf(!isRoot)(
    "a tool runs as its tenant's uid: not root, /proc/sys read-only, the other tenant and DATA_DIR unreadable",
    async () => {
      const other = await h.tenant({ phone: "+15550001111" });
      const tenant = await h.tenant({ phone: "+15550002222" });
      writeFileSync(join(workspacePath(h.t.ctx.config, other.id), "secret.txt"), "other-tenant-secret");
      const probe = (path: string) =>
        `    try:\n        open(${JSON.stringify(path)}).read(); out.append("READ ${path}")\n    except OSError as e:\n        out.append(f"denied {e.errno}")\n`;
      writeFileSync(
        join(workspacePath(h.t.ctx.config, tenant.id), "execution/probe.py"),
        [
          "import os, sys",
          'if "--health-check" in sys.argv:',
          '    out = [f"uid={os.getuid()}"]',
          "    try:",
          '        v = open("/proc/sys/kernel/core_pattern").read(); open("/proc/sys/kernel/core_pattern", "w").write(v); out.append("CORE-PATTERN-WRITTEN")',
          "    except OSError as e:",
          '        out.append(f"core denied {e.errno}")',
          probe(join(workspacePath(h.t.ctx.config, other.id), "secret.txt")) +
            probe(join(h.t.ctx.config.DATA_DIR, "proxystaff.db")) +
            '    print(" ".join(out))',
        ].join("\n"),
      );
      const uid = await tenantUid(h.t.ctx.db, tenant.id);
      expect(uid).toBeGreaterThanOrEqual(200_000);
      for (const config of [h.t.ctx.config, { ...h.t.ctx.config, AGENT_SANDBOX: "none" } as Config]) {
        const results = await runToolHealthChecks({ ...h.t.ctx, config }, tenant.id, { sandbox: toolSandbox(config) });
        const output = results.find((r) => r.tool === "probe.py")?.output ?? "";
        expect(output).toContain(`uid=${uid}`);
        expect(output).not.toContain("CORE-PATTERN-WRITTEN");
        expect(output).not.toContain("READ ");
        expect(output.match(/denied/g)).toHaveLength(3);
      }
    },
  );

  test("a health check script never sees SENDGRID_API_KEY (server-side only, like agent runs); other credentials it does", async () => {
    const tenant = await h.tenant();
    await h.call("POST", `/admin/tenants/${tenant.id}/credentials`, {
      credentials: { SENDGRID_API_KEY: GOOD_KEY, OTHER_TOKEN: "other-token-1234" },
    });
    writeFileSync(inWorkspace(tenant.id, ".env"), "SENDGRID_FROM_EMAIL=owner@acme.test\n");
    writeFileSync(
      inWorkspace(tenant.id, "execution/dump_env.py"),
      'import json, os, sys\nif "--health-check" in sys.argv:\n    open("env-seen.json", "w").write(json.dumps(dict(os.environ)))\n    print("ok: dumped")\n',
    );
    const results = await runToolHealthChecks(h.t.ctx, tenant.id);
    expect(results.find((r) => r.tool === "dump_env.py")?.status).toBe("ok");
    const seen = JSON.parse(readFileSync(inWorkspace(tenant.id, "env-seen.json"), "utf8")) as Record<string, string>;
    expect(seen.SENDGRID_API_KEY).toBeUndefined();
    expect(Object.values(seen)).not.toContain(GOOD_KEY);
    expect(seen.OTHER_TOKEN).toBe("other-token-1234");
    expect(seen.SENDGRID_FROM_EMAIL).toBe("owner@acme.test");
  });

  test("an unreachable SendGrid: the server-side check fails, the script (without the key) stays ok", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const base = `http://127.0.0.1:${closed.port}`;
    await closed.stop(true);
    const offline = await adminHarness({ env: { SENDGRID_API_BASE: base } });
    try {
      const tenant = await offline.tenant();
      await offline.call("POST", `/admin/tenants/${tenant.id}/credentials`, {
        credentials: { SENDGRID_API_KEY: GOOD_KEY },
      });
      const results = await runToolHealthChecks(offline.t.ctx, tenant.id);
      expect(results.find((r) => r.tool === "send_email.py")?.status).toBe("ok");
      const [server] = await runServerSideToolChecks(offline.t.ctx, tenant.id);
      expect(server).toMatchObject({ tool: "send_email (server-side)", status: "failed" });
      expect(server?.output).toStartWith("SendGrid could not be reached");
      expect(server?.output).toContain(` at ${base}`);
      const res = await offline.call("POST", "/admin/tools/health-check", { tenant_id: tenant.id });
      const text = await res.text();
      expect(text).toContain("SendGrid could not be reached");
      expect(text).not.toContain(GOOD_KEY);
      expect((JSON.parse(text) as Json).ok).toBe(false);
    } finally {
      await offline.cleanup();
    }
  });

  test("a tool past its time limit is killed and reported", async () => {
    const tenant = await h.tenant();
    writeFileSync(
      inWorkspace(tenant.id, "execution/slow.py"),
      'import sys, time\nif "--health-check" in sys.argv:\n    time.sleep(30)\n',
    );
    const results = await runToolHealthChecks(h.t.ctx, tenant.id, { timeoutMs: 300 });
    const slow = results.find((r) => r.tool === "slow.py");
    expect(slow).toMatchObject({ status: "failed", exit_code: null });
    expect(slow?.output).toContain("Timed out after 300 ms");
  });
});

describe("WhatsApp tenants", () => {
  test("link fails while Twilio is not configured; configured it only warns (the number is not verified) until the number writes in", async () => {
    const tenant = await h.tenant({ channel: "whatsapp" });
    const unconfigured = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/validate?health=false`);
    expect(byName(unconfigured.body.checks, "link")).toMatchObject({ status: "fail" });
    expect(byName(unconfigured.body.checks, "link").fix).toContain("TWILIO_ACCOUNT_SID");
    expect(unconfigured.body.ok).toBe(false);

    const twilio = await adminHarness({
      env: {
        TWILIO_ACCOUNT_SID: `AC${"0".repeat(32)}`,
        TWILIO_AUTH_TOKEN: "twilio-token-123",
        TWILIO_WHATSAPP_FROM: "whatsapp:+14155238886",
      },
    });
    try {
      const wa = await twilio.tenant({ channel: "whatsapp", phone: "+447700900123" });
      const configured = await twilio.json<Json>("GET", `/admin/tenants/${wa.id}/validate?health=false`);
      const unverified = byName(configured.body.checks, "link");
      expect(unverified.status).toBe("warn");
      expect(unverified.detail).toBe(
        "Twilio configured (WhatsApp via whatsapp:+14155238886); the number itself is not verified: no WhatsApp message from +447700900123 yet.",
      );
      expect(unverified.fix).toContain("sends any WhatsApp message from +447700900123 to +14155238886");
      expect(configured.body.ok).toBe(true);

      await twilio.t.ctx.db.run(
        sql`INSERT INTO messages (id, tenant_id, direction, channel, chat_id, external_id, body, status, created_at)
            VALUES ('m-wa-1', ${wa.id}, 'in', 'whatsapp', '+447700900123', 'SM0001', 'hi', 'done', '2026-11-26T09:00:00.000Z')`,
      );
      const heard = await twilio.json<Json>("GET", `/admin/tenants/${wa.id}/validate?health=false`);
      expect(byName(heard.body.checks, "link").status).toBe("ok");
      expect(byName(heard.body.checks, "link").detail).toContain(
        "+447700900123 has written in (last at 2026-11-26T09:00:00.000Z)",
      );
    } finally {
      await twilio.cleanup();
    }
  });
});

describe("an unreadable vault", () => {
  test("validate reports it as a failed check; health-check reports it per tenant", async () => {
    const tenant = await h.tenant();
    await h.call("POST", `/admin/tenants/${tenant.id}/credentials`, { credentials: { SENDGRID_API_KEY: GOOD_KEY } });
    // The same database opened with another CREDENTIALS_KEY (and no CREDENTIALS_KEY_PREVIOUS).
    const { adminRoutes } = await import("../../../src/http/admin/index.ts");
    const { createApp } = await import("../../../src/http/app.ts");
    const ctx = {
      ...h.t.ctx,
      config: Object.freeze({ ...h.t.ctx.config, CREDENTIALS_KEY: Buffer.alloc(32, 3).toString("base64") }),
    };
    const app = createApp(ctx, { modules: [adminRoutes(ctx)] });
    const auth = { authorization: `Bearer ${h.t.ctx.config.ADMIN_API_KEY}` };
    const validate = (await (
      await app.request(`/admin/tenants/${tenant.id}/validate`, { headers: auth })
    ).json()) as Json;
    expect(byName(validate.checks, "environment")).toMatchObject({ status: "fail" });
    expect(byName(validate.checks, "environment").fix).toContain("CREDENTIALS_KEY_PREVIOUS");
    const health = await app.request("/admin/tools/health-check", { method: "POST", headers: auth });
    expect(health.status).toBe(200);
    const body = (await health.json()) as Json;
    expect(body.tenants[0]).toMatchObject({ tenant_id: tenant.id, ok: false, tools: [] });
    expect(body.tenants[0].error).toContain(tenant.id);
  });
});

describe("values written by hand with SQL", () => {
  test("unknown status / onboarding_status / channel fail with the raw value and the valid ones (not misreported as ARCHIVED)", async () => {
    const tenant = await h.tenant();
    await h.t.ctx.db.run(
      sql`UPDATE tenants SET status = 'active', onboarding_status = 'live', channel = 'Telegram' WHERE id = ${tenant.id}`,
    );
    const { status, body } = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/validate?health=false`);
    expect(status).toBe(200);
    expect(body.ok).toBe(false);
    const record = byName(body.checks, "record");
    expect(record).toMatchObject({
      status: "fail",
      detail: 'status is "active", which is not a valid value (valid: ACTIVE, ARCHIVED; values are case-sensitive).',
    });
    expect(record.detail).not.toContain("ARCHIVED:");
    expect(record.fix).toBe(`UPDATE tenants SET status = 'ACTIVE' WHERE id = '${tenant.id}';`);
    const lifecycle = byName(body.checks, "lifecycle");
    expect(lifecycle.status).toBe("fail");
    expect(lifecycle.detail).toContain('onboarding_status is "live"');
    expect(lifecycle.detail).toContain("DISCOVERY, BUILDING, LIVE, PAUSED");
    expect(lifecycle.fix).toBe(`UPDATE tenants SET onboarding_status = 'LIVE' WHERE id = '${tenant.id}';`);
    expect(byName(body.checks, "link").status).toBe("fail");
    expect(byName(body.checks, "link").detail).toContain('channel is "Telegram"');

    await h.t.ctx.db.run(sql`UPDATE tenants SET onboarding_status = 'finished' WHERE id = ${tenant.id}`);
    const again = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/validate?health=false`);
    expect(byName(again.body.checks, "lifecycle").fix).toContain("(or another of DISCOVERY, BUILDING, LIVE, PAUSED)");
  });
});

describe("a broken workspace", () => {
  test(".env is a directory: validate reports a failed line; the all-tenant health check still reports the others", async () => {
    const broken = await h.tenant();
    const fine = await h.tenant();
    const envPath = inWorkspace(broken.id, ".env");
    rmSync(envPath);
    mkdirSync(envPath);
    mkdirSync(inWorkspace(fine.id, "execution/folder.py")); // a directory named like a tool is skipped

    const validate = await h.json<Json>("GET", `/admin/tenants/${broken.id}/validate`);
    expect(validate.status).toBe(200);
    expect(validate.body.ok).toBe(false);
    expect(byName(validate.body.checks, "environment")).toMatchObject({
      status: "fail",
      detail: expect.stringContaining(".env is a folder, not a regular file"),
    });
    expect(byName(validate.body.checks, "session")?.status).toBe("ok"); // the rest of the checklist is still there

    const health = await h.json<Json>("POST", "/admin/tools/health-check");
    expect(health.status).toBe(200);
    const byId = (id: string) => health.body.tenants.find((t: Json) => t.tenant_id === id) as Json;
    expect(byId(broken.id)).toMatchObject({
      ok: false,
      tools: [],
      error: expect.stringContaining("unsafe_workspace_file"),
    });
    expect(byId(fine.id).tools.map((t: Json) => t.tool)).toEqual([
      "env_loader.py",
      "send_email.py",
      "send_email (server-side)",
    ]);
    expect(byId(fine.id).ok).toBe(true);
  });
});

describe("tool health checks are isolated like agent runs", () => {
  // Needs a working bubblewrap (as production with AGENT_SANDBOX=bwrap); skipped where it cannot run.
  test.if(bwrapWorks)("under bubblewrap a tool sees its workspace but not DATA_DIR or other tenants", async () => {
    const a = await h.tenant();
    const b = await h.tenant();
    const other = inWorkspace(b.id, "CLAUDE.md");
    writeFileSync(
      inWorkspace(a.id, "execution/peek.py"),
      [
        "import os, sys",
        'if "--health-check" in sys.argv:',
        `    seen = [p for p in [${JSON.stringify(h.t.ctx.config.DATA_DIR)}, ${JSON.stringify(other)}] if os.path.exists(p)]`,
        '    print("own CLAUDE.md:", os.path.exists("CLAUDE.md"), "outside:", seen)',
        "    sys.exit(1 if seen or not os.path.exists('CLAUDE.md') else 0)",
      ].join("\n"),
    );
    const results = await runToolHealthChecks(h.t.ctx, a.id);
    expect(results.find((r) => r.tool === "peek.py")).toMatchObject({
      status: "ok",
      output: "own CLAUDE.md: True outside: []",
    });
  });

  // Attack (S6): a health check runs code the agent can edit; without limits it can fork-bomb, eat memory or fill /tmp.
  test("a tool health check runs in a run cgroup of its own with the runs' limits (processes; under bubblewrap a sized /tmp)", async () => {
    const support = detectCgroups();
    const tenant = await h.tenant();
    writeFileSync(
      join(workspacePath(h.t.ctx.config, tenant.id), "execution/limits_probe.py"),
      [
        "import os, resource, sys, time",
        'if "--health-check" in sys.argv:',
        "    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]",
        "    st = os.statvfs('/tmp')",
        "    time.sleep(1.5)",
        '    print("nproc", nproc, "tmp", st.f_blocks * st.f_frsize)',
      ].join("\n"),
    );
    const groups = new Set<string>();
    const checking = runToolHealthChecks(h.t.ctx, tenant.id);
    const pidsBase = support?.bases.find((b) => b.controller !== "memory")?.dir;
    for (let i = 0; i < 30 && pidsBase; i++) {
      for (const dir of readdirSync(pidsBase).filter((d) => d.startsWith(`run-${process.pid}-`))) {
        if (readFileSync(join(pidsBase, dir, "cgroup.procs"), "utf8").trim() !== "") groups.add(dir);
      }
      await Bun.sleep(50);
    }
    const probe = (await checking).find((r) => r.tool === "limits_probe.py");
    expect(probe?.status).toBe("ok");
    const [, nproc, , tmp] = (probe?.output ?? "").split(" ");
    expect(Number(nproc)).toBe(DEFAULT_MAX_PROCESSES);
    if (bwrapWorks) expect(Number(tmp)).toBe(h.t.ctx.config.AGENT_TMP_MB * 1024 * 1024);
    if (support) expect(groups.size).toBeGreaterThan(0);
    else console.warn("SKIPPED the cgroup part: no usable cgroup here");
  });

  test("AGENT_SANDBOX=bwrap without a working bwrap: tools are not run, and say why", async () => {
    const tenant = await h.tenant();
    const results = await runToolHealthChecks(h.t.ctx, tenant.id, {
      sandbox: { mode: "refused", reason: "AGENT_SANDBOX=bwrap but bwrap is not installed" },
    });
    expect(results.length).toBeGreaterThan(0);
    for (const r of results)
      expect(r).toMatchObject({ status: "failed", output: "Not run: AGENT_SANDBOX=bwrap but bwrap is not installed." });
  });
});
