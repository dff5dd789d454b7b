import { expect, test } from "bun:test";
import { spawnServer } from "../helpers/index.ts";

test("serve starts without the Claude CLI: /health degraded, admin API works, the reason is logged", async () => {
  const server = await spawnServer({ env: { AGENT_COMMAND: "/nonexistent/claude", AGENT_SANDBOX: "none" } });
  try {
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as Record<string, unknown>;
    expect(body.status).toBe("degraded");
    expect(body.agent).toBe("unavailable");
    expect(String(body.agent_error)).toContain("/nonexistent/claude");
    expect((await server.adminFetch("/admin/tenants")).status).toBe(200);
    expect(server.logs().some((l) => l.level === "error" && String(l.msg).startsWith("agent CLI not found"))).toBe(
      true,
    );
  } finally {
    await server.cleanup();
  }
});
