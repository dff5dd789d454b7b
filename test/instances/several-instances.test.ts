// Three real server processes (their own INSTANCE_ID, DATA_DIR, TENANTS_DIR) on one libSQL server (sqld):
// webhooks go to any instance, every turn runs on the tenant's owner, nothing is lost when an owner is
// SIGKILLed mid-turn, admin calls that need the workspace answer wrong_instance, and move-tenant carries
// the workspace and the conversation (the real CLI's resume) to another instance while messages arrive.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Fakes } from "../e2e/stack.ts";
import { HAS_REAL_CLI, StackClient, spawnServer, stackEnv, startFakes } from "../e2e/stack.ts";
import { lastPrompt } from "../fakes/anthropic.ts";
import { eventually, freePort } from "../helpers/index.ts";
import { REPO_ROOT } from "../helpers/server-process.ts";
import { HAS_SQLD, type SqldServer, startSqld } from "../helpers/sqld.ts";

const AGENT = join(REPO_ROOT, "test/fakes/instance-agent.sh");
const IDS = ["i1", "i2", "i3"] as const;
const TENANTS = 30;

describe.skipIf(!HAS_SQLD || !HAS_REAL_CLI)("three instances on one sqld", () => {
  let sqld: SqldServer;
  let fakes: Fakes;
  const clients = new Map<string, StackClient>();
  const envs = new Map<string, Record<string, string>>();
  const dirs = new Map<string, string>();
  /** tenant number → { id, owner, chat } */
  const tenants: { id: string; owner: string; chat: number; phone: string }[] = [];
  let updateId = 5_000_000;

  const client = (id: string) => clients.get(id) as StackClient;
  const anyClient = () => client(IDS[Math.floor(Math.random() * IDS.length)] as string);
  const text = (chat: number, body: string, via?: string) =>
    (via ? client(via) : anyClient()).postTelegram({
      update_id: ++updateId,
      message: {
        message_id: updateId,
        date: Math.floor(Date.now() / 1000),
        chat: { id: chat, type: "private" },
        from: { id: chat, is_bot: false, first_name: "Owner" },
        text: body,
      },
    } as never);
  const answers = (chat: number) =>
    client("i1")
      .telegramReplies(chat)
      .filter((t) => t.startsWith("ran in"));

  async function start(id: string): Promise<void> {
    const env = envs.get(id) as Record<string, string>;
    const server = await spawnServer({ env, ...(dirs.has(id) ? { dir: dirs.get(id) } : {}) });
    dirs.set(id, server.dir);
    clients.set(id, new StackClient(server, fakes));
  }

  beforeAll(async () => {
    sqld = await startSqld();
    fakes = startFakes();
    for (const id of IDS) {
      const port = await freePort();
      envs.set(
        id,
        stackEnv(fakes, port, {
          DATABASE_URL: sqld.url,
          INSTANCE_ID: id,
          AGENT_COMMAND: AGENT,
          AGENT_WARM: "off", // the stand-in speaks the one-shot protocol (and hands [real] prompts to a cold CLI)
          AGENT_TIMEOUT_MS: "60000",
          LEASE_TTL_MS: "20000",
          ...(id === "i3" ? { FLY_APP_NAME: "proxystaff-test" } : {}),
        }),
      );
      await start(id); // one at a time: the first migrates the empty database
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of clients.values()) await c.server.cleanup();
    await fakes?.stop();
    await sqld?.stop();
  }, 60_000);

  test("instances register and show up in /health and GET /admin/instances", async () => {
    const res = await client("i2").admin("GET", "/admin/instances");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { self: string; instances: { id: string; up: boolean; url: string }[] };
    expect(body.self).toBe("i2");
    expect(body.instances.map((i) => [i.id, i.up])).toEqual([
      ["i1", true],
      ["i2", true],
      ["i3", true],
    ]);
    expect(body.instances[0]?.url).toBe(client("i1").server.env.PUBLIC_URL);
    const health = await client("i1").health();
    expect(health.body.instance_id).toBe("i1");
    expect((health.body.instances as unknown[]).length).toBe(3);
  });

  test("30 tenants over three instances, webhooks to random instances: each answered once, every run on the owner", async () => {
    for (let n = 0; n < TENANTS; n++) {
      const owner = IDS[n % 3] as string;
      const phone = `+1801555${String(7000 + n)}`;
      const id = await client(owner).createTenant({ name: `Tenant ${n}`, phone });
      const chat = 900_000 + n;
      await anyClient().telegramLink(chat, phone);
      tenants.push({ id, owner, chat, phone });
    }
    const owners = await Promise.all(
      tenants.map(
        async (t) =>
          ((await (await anyClient().admin("GET", `/admin/tenants/${t.id}`)).json()) as { instance_id: string })
            .instance_id,
      ),
    );
    expect(owners).toEqual(tenants.map((t) => t.owner));

    for (let m = 0; m < 2; m++) {
      await Promise.all(tenants.map((t, n) => text(t.chat, `[t${n} m${m}] hello`)));
    }
    for (const [n, t] of tenants.entries()) {
      await eventually(
        () => {
          const said = answers(t.chat).join(" ");
          return (said.includes(`[t${n} m0]`) && said.includes(`[t${n} m1]`)) || undefined;
        },
        `tenant ${n}'s two messages answered`,
        90_000,
      );
    }
    await Bun.sleep(1500); // a duplicate would have arrived by now
    for (const [n, t] of tenants.entries()) {
      const said = answers(t.chat);
      const ownerTenants = client(t.owner).server.tenantsDir;
      for (const line of said) expect(line.startsWith(`ran in ${ownerTenants}/`)).toBe(true);
      for (const m of [0, 1]) expect(said.join(" ").split(`[t${n} m${m}]`).length - 1).toBe(1);
      // The runs happened in the owner's workspace, and no other instance has one.
      expect(readFileSync(join(ownerTenants, t.id, "runs.log"), "utf8")).toContain(`[t${n} m0]`);
      for (const other of IDS.filter((i) => i !== t.owner))
        expect(existsSync(join(client(other).server.tenantsDir, t.id))).toBe(false);
    }
    // The log agrees: each instance ran only its own tenants.
    for (const id of IDS) {
      const ran = client(id)
        .server.logs()
        .filter((l) => l.msg === "agent run started")
        .map((l) => l.tenantId);
      for (const tenantId of ran) expect(tenants.find((t) => t.id === tenantId)?.owner).toBe(id);
    }
  }, 240_000);

  test("an owner SIGKILLed mid-turn and restarted: nothing lost, answered once", async () => {
    const n = tenants.findIndex((t) => t.owner === "i2");
    const t = tenants[n] as (typeof tenants)[number];
    const server = client("i2").server;
    await text(t.chat, `[t${n} m7] [slow] please`);
    await server.waitForLog((l) => l.msg === "agent run started" && l.tenantId === t.id, 30_000);
    await text(t.chat, `[t${n} m8] while it is down`); // stored by whichever instance; the owner is dying
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    await start("i2");
    await eventually(
      () => {
        const said = answers(t.chat).join(" ");
        return (said.includes(`[t${n} m7]`) && said.includes(`[t${n} m8]`)) || undefined;
      },
      "both messages answered after the restart",
      90_000,
    );
    await Bun.sleep(1500);
    const said = answers(t.chat).join(" ");
    expect(said.split(`[t${n} m7]`).length - 1).toBe(1);
    expect(said.split(`[t${n} m8]`).length - 1).toBe(1);
  }, 180_000);

  test("admin calls needing the workspace answer 409 wrong_instance naming the owner (fly-replay on Fly)", async () => {
    const t = tenants.find((x) => x.owner === "i1") as (typeof tenants)[number];
    const res = await client("i2").admin("GET", `/admin/tenants/${t.id}/validate`);
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("wrong_instance");
    expect(body.error.message).toContain("i1");
    expect(body.error.message).toContain(client("i1").server.env.PUBLIC_URL as string);
    expect(res.headers.get("fly-replay")).toBeNull(); // i2 is not on Fly
    const onFly = await client("i3").admin("POST", "/admin/tools/health-check", { tenant_id: t.id });
    expect(onFly.status).toBe(409);
    expect(onFly.headers.get("fly-replay")).toBe("instance=i1");
    // On the owner the same call works; reads that need no workspace work anywhere.
    expect((await client("i1").admin("GET", `/admin/tenants/${t.id}/validate`)).status).toBe(200);
    expect((await client("i3").admin("GET", `/admin/tenants/${t.id}`)).status).toBe(200);
    // Creating a tenant for another instance is sent there.
    const create = await client("i3").admin("POST", "/admin/tenants", {
      name: "Elsewhere",
      phone: "+18015559999",
      channel: "telegram",
      instance_id: "i2",
    });
    expect(create.status).toBe(409);
    expect(create.headers.get("fly-replay")).toBe("instance=i2");
  });

  test("move-tenant while messages arrive: none lost or answered twice, the workspace (and its history) continues on the target", async () => {
    const phone = "+18015558888";
    const id = await client("i1").createTenant({ name: "Mover", phone });
    const chat = 990_001;
    await client("i2").telegramLink(chat, phone);
    await text(chat, "[t99 m0] before the move");
    await eventually(() => answers(chat).join(" ").includes("[t99 m0]") || undefined, "first answer", 60_000);

    // Messages keep arriving (to random instances) while the move runs.
    let sending = true;
    let k = 1;
    const sender = (async () => {
      while (sending) {
        await text(chat, `[t99 m${k++}] during the move`);
        await Bun.sleep(300);
      }
    })();
    const move = Bun.spawn(
      [process.execPath, join(REPO_ROOT, "src/main.ts"), "move-tenant", id, "--to", "i3", "--json"],
      {
        cwd: client("i1").server.dir,
        env: { ...client("i1").server.env, LOG_FORMAT: "json" },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const [out, err, code] = await Promise.all([
      new Response(move.stdout).text(),
      new Response(move.stderr).text(),
      move.exited,
    ]);
    await Bun.sleep(1000);
    sending = false;
    await sender;
    expect({ code, err: code === 0 ? "" : err + out }).toEqual({ code: 0, err: "" });
    expect(JSON.parse(out)[0]).toMatchObject({ status: "moved", from: "i1", to: "i3" });
    const tenant = (await (await client("i2").admin("GET", `/admin/tenants/${id}`)).json()) as { instance_id: string };
    expect(tenant.instance_id).toBe("i3");
    expect(existsSync(join(client("i1").server.tenantsDir, id))).toBe(false);

    const total = k;
    await eventually(
      () => {
        const said = answers(chat).join(" ");
        return Array.from({ length: total }, (_, m) => `[t99 m${m}]`).every((tag) => said.includes(tag)) || undefined;
      },
      "every message answered",
      90_000,
    );
    await Bun.sleep(1500);
    const said = answers(chat);
    for (let m = 0; m < total; m++) expect(said.join(" ").split(`[t99 m${m}]`).length - 1).toBe(1);
    expect(said[0]?.startsWith(`ran in ${client("i1").server.tenantsDir}/`)).toBe(true);
    expect(said.at(-1)?.startsWith(`ran in ${client("i3").server.tenantsDir}/`)).toBe(true);
    // The workspace travelled: the run log written on i1 before the move continues on i3.
    const log = readFileSync(join(client("i3").server.tenantsDir, id, "runs.log"), "utf8");
    expect(log).toContain("[t99 m0]");
    expect(log).toContain(`[t99 m${total - 1}]`);
    // A rerun after success only reports it.
    const again = Bun.spawnSync(
      [process.execPath, join(REPO_ROOT, "src/main.ts"), "move-tenant", id, "--to", "i3", "--json"],
      { cwd: client("i1").server.dir, env: { ...client("i1").server.env, LOG_FORMAT: "json" } },
    );
    expect(again.exitCode).toBe(0);
    expect(JSON.parse(again.stdout.toString())[0]).toMatchObject({ status: "already_moved", to: "i3" });
  }, 300_000);

  /** Runs `proxystaff move-tenant` as an operator would (from i1's machine; any machine works). */
  async function moveCli(tenantId: string, to: string): Promise<{ code: number; out: string; err: string }> {
    const proc = Bun.spawn(
      [process.execPath, join(REPO_ROOT, "src/main.ts"), "move-tenant", tenantId, "--to", to, "--json"],
      {
        cwd: client("i1").server.dir,
        env: { ...client("i1").server.env, LOG_FORMAT: "json" },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, out, err };
  }

  test("the real CLI's conversation continues on the target: the model's next request carries the earlier turns", async () => {
    const requests: string[] = [];
    fakes.anthropic.setHandler(async (req) => {
      requests.push(JSON.stringify(req.body));
      const prompt = lastPrompt(req.body) ?? "";
      return { type: "text", text: `real answer (${prompt.includes("zebra") ? "noted" : "asked"})` };
    });
    const phone = "+18015557777";
    const id = await client("i2").createTenant({ name: "Real mover", phone });
    const chat = 990_002;
    await client("i3").telegramLink(chat, phone);
    const real = () =>
      client("i1")
        .telegramReplies(chat)
        .filter((x) => x.startsWith("real answer"));
    await text(chat, "[real] remember the word zebra");
    await eventually(() => real().length >= 1 || undefined, "the first real answer", 120_000);
    const moved = await moveCli(id, "i1");
    expect({ code: moved.code, err: moved.code === 0 ? "" : moved.err + moved.out }).toEqual({ code: 0, err: "" });
    const before = requests.length;
    await text(chat, "[real] which word was it?");
    await eventually(() => real().length >= 2 || undefined, "the answer after the move", 120_000);
    const after = requests.slice(before).join("\n");
    expect(after).toContain("zebra"); // resumed: the earlier turn travelled in the CLI directory
    expect(after).toContain(client("i1").server.tenantsDir); // the run was on the target
    const resumed = client("i1")
      .server.logs()
      .filter((l) => l.msg === "agent run started" && l.tenantId === id);
    expect(resumed.map((l) => l.isResume)).toEqual([true]);
  }, 300_000);

  test("either side killed mid-move: the rerun completes and nothing is lost", async () => {
    const phone = "+18015556666";
    const id = await client("i1").createTenant({ name: "Heavy", phone });
    const chat = 990_003;
    await client("i2").telegramLink(chat, phone);
    await text(chat, "[t98 m0] first");
    await eventually(() => answers(chat).join(" ").includes("[t98 m0]") || undefined, "first answer", 60_000);
    // A large file makes the move take long enough to be cut.
    Bun.spawnSync(["head", "-c", String(150 * 1024 * 1024), "/dev/urandom"], {
      stdout: Bun.file(join(client("i1").server.tenantsDir, id, "big.bin")),
    });

    // 1. The target dies while the source packs and sends.
    const target = client("i2").server;
    const first = moveCli(id, "i2");
    await client("i1").server.waitForLog(
      (l) => l.msg === "move started: the tenant's lease is held" && l.tenantId === id,
      60_000,
    );
    target.proc.kill("SIGKILL");
    await target.proc.exited;
    const failed = await first;
    expect(failed.code).not.toBe(0);
    await text(chat, "[t98 m1] between the attempts", "i3"); // i2 is down
    await start("i2");

    // 2. The source dies mid-move (the rerun's own move).
    const source = client("i1").server;
    const started = () =>
      source.logs().filter((l) => l.msg === "move started: the tenant's lease is held" && l.tenantId === id).length;
    const startedBefore = started();
    const second = moveCli(id, "i2");
    await eventually(() => started() > startedBefore || undefined, "the second move started", 60_000, 5);
    source.proc.kill("SIGKILL");
    await source.proc.exited;
    expect((await second).code).not.toBe(0);
    await start("i1");

    // 3. The rerun completes.
    const third = await moveCli(id, "i2");
    expect({ code: third.code, err: third.code === 0 ? "" : third.err + third.out }).toEqual({ code: 0, err: "" });
    expect(JSON.parse(third.out)[0]).toMatchObject({ status: "moved", from: "i1", to: "i2" });
    expect(existsSync(join(client("i2").server.tenantsDir, id, "big.bin"))).toBe(true);
    expect(existsSync(join(client("i1").server.tenantsDir, id))).toBe(false);
    await text(chat, "[t98 m2] after the move");
    await eventually(
      () => {
        const said = answers(chat).join(" ");
        return ["[t98 m0]", "[t98 m1]", "[t98 m2]"].every((tag) => said.includes(tag)) || undefined;
      },
      "every message answered",
      90_000,
    );
    await Bun.sleep(1500);
    const said = answers(chat).join(" ");
    for (const tag of ["[t98 m0]", "[t98 m1]", "[t98 m2]"]) expect(said.split(tag).length - 1).toBe(1);
    expect(
      answers(chat)
        .at(-1)
        ?.startsWith(`ran in ${client("i2").server.tenantsDir}/`),
    ).toBe(true);
  }, 300_000);
});
