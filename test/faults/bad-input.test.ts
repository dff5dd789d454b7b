// Fault: hostile input. ≥10,000 seeded malformed/hostile requests go to every public and admin route in-process
// (app.request over the real wiring of src/parts.ts), and a smaller slice to a real server process. The server must
// never answer 5xx, never crash, never change data on a refused request, and never echo a secret.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Hono } from "hono";
import { createApp } from "../../src/http/app.ts";
import { HealthRegistry } from "../../src/http/health.ts";
import { buildServerParts } from "../../src/parts.ts";
import { FAKE_TWILIO_SID, FAKE_TWILIO_TOKEN } from "../fakes/twilio.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, fileDatabaseOnly, TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY } from "../helpers/index.ts";
import type { HostileRequest, HostileTargets } from "./hostile-requests.ts";
import { hostileRequests } from "./hostile-requests.ts";
import type { TelegramSink } from "./support.ts";
import { baseEnv, faultDir, faultSeed, startBenchServer, startTelegramSink, writeStandInAgent } from "./support.ts";

const IN_PROCESS_REQUESTS = 10_000;
const REAL_PROCESS_REQUESTS = 600;
const TELEGRAM_SECRET = "fuzz-telegram-secret-0123456789";
const TENANT_SECRET = "SG.fuzz-tenant-credential-value-0123456789";

/** Platform and tenant secrets no answer may contain. */
function secretsOf(botToken: string): string[] {
  return [TEST_ADMIN_KEY, TEST_CREDENTIALS_KEY, botToken, FAKE_TWILIO_TOKEN, TELEGRAM_SECRET, TENANT_SECRET];
}

function channelEnv(sink: TelegramSink): Record<string, string> {
  return {
    TELEGRAM_BOT_TOKEN: sink.token,
    TELEGRAM_API_ROOT: sink.url,
    TELEGRAM_MODE: "webhook",
    TELEGRAM_WEBHOOK_SECRET: TELEGRAM_SECRET,
    TWILIO_ACCOUNT_SID: FAKE_TWILIO_SID,
    TWILIO_AUTH_TOKEN: FAKE_TWILIO_TOKEN,
    TWILIO_WHATSAPP_FROM: "whatsapp:+14155238886",
    TWILIO_API_BASE: sink.url,
    PUBLIC_URL: "http://127.0.0.1:9",
    AGENT_SANDBOX: "none",
  };
}

/**
 * A fingerprint of everything a refused request must not change: rows of every table and the tenants folder. (Not
 * the messages' status/processed_at: the running outbox legitimately updates those in the background.)
 */
function fingerprint(db: Database, tenantsDir: string): string {
  const [row] = db
    .query(
      `SELECT
        (SELECT count(*) || '/' || coalesce(max(updated_at), '') || '/' || coalesce(group_concat(status || onboarding_status || coalesce(telegram_chat_id, '') || name || business), '') FROM tenants) AS tenants,
        (SELECT count(*) || '/' || coalesce(max(updated_at), '') FROM credentials) AS credentials,
        (SELECT count(*) FROM messages) AS messages,
        (SELECT count(*) || '/' || coalesce(group_concat(coalesce(agent_session_id, '') || coalesce(lease_owner, '')), '') FROM conversation_sessions) AS sessions,
        (SELECT count(*) || '/' || coalesce(max(updated_at), '') || '/' || coalesce(group_concat(status || paused), '') FROM scheduled_tasks) AS tasks`,
    )
    .all() as Record<string, string>[];
  const files = existsSync(tenantsDir) ? readdirSync(tenantsDir, { recursive: true }).map(String).sort().join("|") : "";
  return `${JSON.stringify(row)}#${files}`;
}

interface Findings {
  sent: number;
  byStatus: Map<number, number>;
  byKind: Map<string, number>;
  serverErrors: string[];
  mutations: string[];
  echoes: string[];
  thrown: string[];
}

const describeRequest = (r: HostileRequest, status: number | string) =>
  `${r.kind}: ${r.method} ${r.path.slice(0, 120)} -> ${status}`;

/** Sends requests through `send`, checking each answer; `snapshot` reads the fingerprint. */
async function fuzz(
  count: number,
  next: () => HostileRequest,
  send: (r: HostileRequest) => Promise<Response>,
  snapshot: () => string,
  secrets: string[],
): Promise<Findings> {
  const f: Findings = {
    sent: 0,
    byStatus: new Map(),
    byKind: new Map(),
    serverErrors: [],
    mutations: [],
    echoes: [],
    thrown: [],
  };
  let before = snapshot();
  for (let i = 0; i < count; i++) {
    const request = next();
    f.sent++;
    f.byKind.set(request.kind, (f.byKind.get(request.kind) ?? 0) + 1);
    let res: Response;
    try {
      res = await send(request);
    } catch (err) {
      f.thrown.push(`${describeRequest(request, "threw")}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    const text = await res.text();
    f.byStatus.set(res.status, (f.byStatus.get(res.status) ?? 0) + 1);
    const headerText = [...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
    if (res.status >= 500) f.serverErrors.push(`${describeRequest(request, res.status)}: ${text.slice(0, 200)}`);
    for (const secret of secrets)
      if (text.includes(secret) || headerText.includes(secret)) f.echoes.push(describeRequest(request, res.status));
    const after = snapshot();
    if (after !== before && (request.isUnauthorized || res.status >= 400))
      f.mutations.push(describeRequest(request, res.status));
    before = after;
  }
  return f;
}

/** 5xx answers grouped by request class and answer, each with its count and one example (short assertion diffs). */
function serverErrorClasses(f: Findings): string[] {
  const groups = new Map<string, { count: number; example: string }>();
  for (const line of f.serverErrors) {
    const key = `${line.split(":")[0]} -> ${line.split(" -> ")[1]?.slice(0, 3) ?? ""}`;
    const group = groups.get(key) ?? { count: 0, example: line.slice(0, 300) };
    group.count++;
    groups.set(key, group);
  }
  return [...groups].map(([key, g]) => `${key} ×${g.count}, e.g. ${g.example}`);
}

function report(label: string, f: Findings): void {
  console.log(
    `bad-input (${label}): ${f.sent} requests (${[...f.byKind].map(([k, v]) => `${k} ×${v}`).join(", ")}); answers ${[
      ...f.byStatus,
    ]
      .sort((x, y) => x[0] - y[0])
      .map(([k, v]) => `${k} ×${v}`)
      .join(
        ", ",
      )}; ${f.serverErrors.length} 5xx, ${f.thrown.length} thrown, ${f.mutations.length} refused-but-changed, ${f.echoes.length} secret echoes`,
  );
  for (const line of [...f.mutations, ...f.echoes, ...f.thrown].slice(0, 15)) console.log(`  ${line}`);
  for (const line of serverErrorClasses(f)) console.log(`  5xx: ${line}`);
}

let t: TestContext;
let app: Hono;
let sink: TelegramSink;
let targets: HostileTargets;
const stand = faultDir("bad-input-agent");

beforeAll(async () => {
  sink = startTelegramSink();
  const agent = writeStandInAgent(stand.dir, {});
  t = await createTestContext({ env: { ...channelEnv(sink), AGENT_COMMAND: agent } });
  const health = new HealthRegistry();
  const parts = await buildServerParts(t.ctx, health);
  app = createApp(t.ctx, { health, modules: parts.flatMap((p) => (p.routes ? [p.routes] : [])) });
  targets = await seedTargets((path, init) => app.request(path, init));
});

afterAll(async () => {
  await t.cleanup();
  await sink.stop();
  stand.remove();
});

/** Two tenants (Telegram linked, WhatsApp), a credential and a task, made through the admin API. */
async function seedTargets(
  call: (path: string, init: RequestInit) => Response | Promise<Response>,
): Promise<HostileTargets> {
  const post = async (path: string, body: unknown) => {
    const res = await call(path, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`seed ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string };
  };
  const a = await post("/admin/tenants", { name: "Fuzz Plumbing", phone: "+18015550101", channel: "telegram" });
  const b = await post("/admin/tenants", { name: "Fuzz Bakery", phone: "+18015550102", channel: "whatsapp" });
  await post(`/admin/tenants/${a.id}/credentials`, { credentials: { SENDGRID_API_KEY: TENANT_SECRET } });
  const task = await post(`/admin/tenants/${a.id}/tasks`, { prompt: "weekly summary", cron: "0 9 * * 1" });
  return {
    adminKey: TEST_ADMIN_KEY,
    telegramSecret: TELEGRAM_SECRET,
    tenantIds: [a.id, b.id],
    taskIds: [task.id],
    credentialKeys: ["SENDGRID_API_KEY"],
  };
}

// The fingerprint reads the database file synchronously (bun:sqlite) around every one of thousands of requests.
const fileOnly = fileDatabaseOnly("bad input: fingerprints the database file around every request");

test.skipIf(fileOnly)(
  `bad input in-process: ${IN_PROCESS_REQUESTS} hostile requests, no 5xx, no change on refusal, no secret echoed`,
  async () => {
    const { rand } = faultSeed("bad-input");
    const db = new Database(join(t.ctx.config.DATA_DIR, "proxystaff.db"), { readonly: true });
    try {
      const findings = await fuzz(
        IN_PROCESS_REQUESTS,
        hostileRequests(rand, targets),
        async (r) => app.request(r.path, { method: r.method, headers: r.headers, body: r.body }),
        () => fingerprint(db, t.ctx.config.TENANTS_DIR),
        secretsOf(sink.token),
      );
      report("in-process", findings);
      expect(findings.sent).toBeGreaterThanOrEqual(10_000);
      // Known product bug at the time of writing (src/channels/telegram.ts): an update with the right secret but a
      // malformed body (not JSON, empty, wrong field types) makes grammY's handler throw and the route answer 500
      // "inbound_failed", so Telegram would redeliver a poison update forever. It should answer 4xx (or 200 and drop it).
      expect(serverErrorClasses(findings)).toEqual([]);
      expect(findings.thrown.slice(0, 10)).toEqual([]);
      expect(findings.mutations.slice(0, 10)).toEqual([]);
      expect(findings.echoes.slice(0, 10)).toEqual([]);
    } finally {
      db.close();
    }
  },
  180_000,
);

test.skipIf(fileOnly)(
  `bad input against a real process: ${REAL_PROCESS_REQUESTS} hostile requests, the process survives`,
  async () => {
    const { rand } = faultSeed("bad-input-process");
    const { dir, remove } = faultDir("bad-input");
    const agent = writeStandInAgent(dir, {});
    const env = {
      ...baseEnv(join(dir, "server"), 0, sink.url, sink.token, { AGENT_COMMAND: agent }),
      ...channelEnv(sink),
    };
    const server = await startBenchServer({ dir: join(dir, "server"), env });
    try {
      const realTargets = await seedTargets((path, init) => fetch(`${server.url}${path}`, init));
      const db = new Database(server.dbPath, { readonly: true });
      try {
        const findings = await fuzz(
          REAL_PROCESS_REQUESTS,
          hostileRequests(rand, realTargets, 60),
          (r) => fetch(`${server.url}${r.path}`, { method: r.method, headers: r.headers, body: r.body }),
          () => fingerprint(db, server.tenantsDir),
          secretsOf(sink.token),
        );
        report("real process", findings);
        expect(server.proc.exitCode).toBeNull();
        const health = await fetch(`${server.url}/health`);
        expect(health.status).toBe(200);
        expect(serverErrorClasses(findings)).toEqual([]);
        expect(findings.mutations.slice(0, 10)).toEqual([]);
        expect(findings.echoes.slice(0, 10)).toEqual([]);
      } finally {
        db.close();
      }
    } finally {
      await server.stop();
      remove();
    }
  },
  120_000,
);
