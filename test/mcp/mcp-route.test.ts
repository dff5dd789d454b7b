import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { archiveTenant } from "../../src/tenants/index.ts";
import { FakeClock } from "../helpers/index.ts";
import type { ToolsFixture } from "./setup.ts";
import { toolsFixture } from "./setup.ts";

const TOOL_NAMES = [
  "schedule_task",
  "list_tasks",
  "cancel_task",
  "send_message",
  "send_file",
  "update_business_profile",
  "set_onboarding_status",
  "send_email",
];

describe("POST /mcp", () => {
  let f: ToolsFixture;
  const clock = new FakeClock(Date.now());
  beforeEach(async () => {
    f = await toolsFixture({ clock });
  });
  afterEach(async () => {
    await f.cleanup();
  });

  test("initialize and tools/list with a valid token", async () => {
    const { token } = f.tools.issueToken(f.a.id, "run-1");
    const init = await f.client.rpc(token, "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "test", version: "1" },
    });
    expect(init.status).toBe(200);
    expect(init.result?.serverInfo).toMatchObject({ name: "proxystaff" });
    const list = await f.client.rpc(token, "tools/list");
    expect(list.result?.tools?.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    for (const tool of list.result?.tools ?? []) expect(tool.inputSchema).toMatchObject({ type: "object" });
  });

  test("missing, unknown and malformed tokens get 401 with a JSON-RPC error", async () => {
    for (const token of [null, "not-a-token", "x".repeat(43)]) {
      const answer = await f.client.rpc(token, "tools/list");
      expect(answer.status).toBe(401);
      expect(answer.error?.code).toBe(-32001);
    }
    const res = await f.app.request("/mcp", {
      method: "POST",
      headers: { authorization: "Basic abc", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  });

  test("a revoked token is refused at once", async () => {
    const issued = f.tools.issueToken(f.a.id, "run-2");
    expect((await f.client.rpc(issued.token, "tools/list")).status).toBe(200);
    issued.revoke();
    issued.revoke(); // idempotent
    expect((await f.client.rpc(issued.token, "tools/list")).status).toBe(401);
  });

  test("a token never revoked expires after AGENT_TIMEOUT_MS plus the margin", async () => {
    const { token } = f.tools.issueToken(f.a.id, "run-3");
    clock.advance(f.ctx.config.AGENT_TIMEOUT_MS + 59_000);
    expect((await f.client.rpc(token, "tools/list")).status).toBe(200);
    clock.advance(2_000);
    expect((await f.client.rpc(token, "tools/list")).status).toBe(401);
  });

  test("each token is distinct, and tokens never appear in logs", async () => {
    const one = f.tools.issueToken(f.a.id, "run-4");
    const two = f.tools.issueToken(f.a.id, "run-4");
    expect(one.token).not.toBe(two.token);
    expect(one.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await f.client.call(one.token, "list_tasks", {});
    await f.client.rpc("wrong", "tools/list");
    const logs = JSON.stringify(f.logs);
    expect(logs).not.toContain(one.token);
    expect(logs).toContain('"msg":"agent tool call"');
  });

  test("an archived tenant's token is refused with 403", async () => {
    const { token } = f.tools.issueToken(f.b.id, "run-5");
    await archiveTenant(f.ctx, f.b.id);
    const answer = await f.client.rpc(token, "tools/list");
    expect(answer.status).toBe(403);
  });

  test("GET and DELETE answer 405 (stateless endpoint)", async () => {
    expect((await f.app.request("/mcp", { method: "GET" })).status).toBe(405);
    expect((await f.app.request("/mcp", { method: "DELETE" })).status).toBe(405);
  });

  test("url() joins the base and /mcp", () => {
    expect(f.tools.url("http://127.0.0.1:3000/")).toBe("http://127.0.0.1:3000/mcp");
  });
});
