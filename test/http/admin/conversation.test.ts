import { describe, expect, test } from "bun:test";
import { getSessionState } from "../../../src/conversation/index.ts";
import { schema } from "../../../src/db/index.ts";
import type { Json } from "./setup.ts";
import { UNKNOWN_ID, useAdminHarness } from "./setup.ts";

const h = useAdminHarness();

async function addMessages(tenantId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await h.t.ctx.db.insert(schema.messages).values({
      id: crypto.randomUUID(),
      tenant_id: tenantId,
      direction: i % 2 === 0 ? "in" : "out",
      channel: "telegram",
      chat_id: "4242",
      external_id: i % 2 === 0 ? `u${tenantId}${i}` : null,
      body: `message ${i}`,
      status: i % 2 === 0 ? "done" : "sent",
      created_at: new Date(Date.parse("2026-11-26T09:00:00.000Z") + i * 1000).toISOString(),
      lease_owner: "internal",
    });
  }
}

describe("GET /admin/tenants/:id/messages", () => {
  test("newest first, limit, and paging with before", async () => {
    const tenant = await h.tenant();
    const other = await h.tenant();
    await addMessages(tenant.id, 5);
    await addMessages(other.id, 2);
    const page = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/messages?limit=3`);
    expect(page.status).toBe(200);
    expect(page.body.messages.map((m: Json) => m.body)).toEqual(["message 4", "message 3", "message 2"]);
    expect(page.body.messages[0].lease_owner).toBeUndefined();
    expect(page.body.next_before).toBe(`${page.body.messages[2].created_at}|${page.body.messages[2].id}`);
    const next = await h.json<Json>(
      "GET",
      `/admin/tenants/${tenant.id}/messages?limit=3&before=${encodeURIComponent(page.body.next_before)}`,
    );
    expect(next.body.messages.map((m: Json) => m.body)).toEqual(["message 1", "message 0"]);
    expect(next.body.next_before).toBeNull();
    const all = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/messages`);
    expect(all.body.messages).toHaveLength(5);
    // Operators may still page by a plain time: messages created strictly before it.
    const byTime = await h.json<Json>(
      "GET",
      `/admin/tenants/${tenant.id}/messages?before=${encodeURIComponent("2026-11-26T09:00:02Z")}`,
    );
    expect(byTime.body.messages.map((m: Json) => m.body)).toEqual(["message 1", "message 0"]);
  });

  test("the chunks of a split reply (one created_at) are all paged through, in order", async () => {
    const tenant = await h.tenant();
    const at = "2026-11-26T09:00:05.000Z";
    await addMessages(tenant.id, 1);
    for (const n of [1, 2, 3]) {
      await h.t.ctx.db.insert(schema.messages).values({
        id: crypto.randomUUID(),
        tenant_id: tenant.id,
        direction: "out",
        channel: "telegram",
        chat_id: "4242",
        body: `chunk ${n}`,
        status: "sent",
        created_at: at,
      });
    }
    const page = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/messages?limit=2`);
    expect(page.body.messages.map((m: Json) => m.body)).toEqual(["chunk 3", "chunk 2"]);
    const next = await h.json<Json>(
      "GET",
      `/admin/tenants/${tenant.id}/messages?limit=2&before=${encodeURIComponent(page.body.next_before)}`,
    );
    expect(next.body.messages.map((m: Json) => m.body)).toEqual(["chunk 1", "message 0"]);
  });

  test("bad limit/before → 400 naming the parameter; unknown tenant → 404", async () => {
    const tenant = await h.tenant();
    for (const [query, field] of [
      ["limit=0", "limit"],
      ["limit=9999", "limit"],
      ["before=yesterday", "before"],
      ["before=2026-11-26T09:00:00Z%7C", "before"],
    ]) {
      const res = await h.json<Json>("GET", `/admin/tenants/${tenant.id}/messages?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain(`${field}:`);
    }
    expect((await h.json("GET", `/admin/tenants/${UNKNOWN_ID}/messages`)).status).toBe(404);
  });
});

describe("POST /admin/tenants/:id/reset-session", () => {
  test("clears the agent session and frees the lease", async () => {
    const tenant = await h.tenant();
    await h.t.ctx.db.insert(schema.conversationSessions).values({
      tenant_id: tenant.id,
      agent_session_id: "0b1c2d3e-0000-4000-8000-000000000001",
      lease_owner: "worker-1",
      lease_expires_at: "2999-01-01T00:00:00.000Z",
    });
    const res = await h.json<Json>("POST", `/admin/tenants/${tenant.id}/reset-session`);
    expect(res.status).toBe(200);
    expect(res.body.reset).toBe(true);
    expect(await getSessionState(h.t.ctx.db, tenant.id)).toEqual({
      agent_session_id: null,
      lease_owner: null,
      lease_expires_at: null,
    });
  });

  test("no session yet → 200 reset:false; unknown tenant → 404; bad id → 400", async () => {
    const tenant = await h.tenant();
    const res = await h.json<Json>("POST", `/admin/tenants/${tenant.id}/reset-session`);
    expect(res).toMatchObject({ status: 200, body: { reset: false } });
    expect((await h.json("POST", `/admin/tenants/${UNKNOWN_ID}/reset-session`)).status).toBe(404);
    expect((await h.json("POST", "/admin/tenants/abc/reset-session")).status).toBe(400);
  });
});
