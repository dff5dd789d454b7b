import type { Hono } from "hono";
import type { Clock } from "../../src/clock.ts";
import { createApp } from "../../src/http/app.ts";
import type { AgentTools } from "../../src/mcp/index.ts";
import { createAgentTools } from "../../src/mcp/index.ts";
import type { ToolOutbox } from "../../src/mcp/tool-kit.ts";
import type { Tenant } from "../../src/tenants/index.ts";
import { createTenant, setTelegramChat } from "../../src/tenants/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, freshEachTest } from "../helpers/index.ts";
import type { McpTestClient } from "./mcp-client.ts";
import { mcpClient } from "./mcp-client.ts";

export type Enqueued = Parameters<ToolOutbox["enqueue"]>[0];

/** Two tenants (A linked to Telegram chat 111, B linked to 222, C never linked) and the tools over an in-process app. */
export interface ToolsFixture extends TestContext {
  tools: AgentTools;
  app: Hono;
  client: McpTestClient;
  a: Tenant;
  b: Tenant;
  c: Tenant;
  /** What send_message handed the outbox. */
  outbox: Enqueued[];
  wakes: () => number;
}

/** Registers the hooks that give each test of the enclosing block a fresh toolsFixture() (cleaned up after). */
export function useToolsFixture(): ToolsFixture {
  return freshEachTest(
    () => toolsFixture(),
    (f) => f.cleanup(),
  );
}

export async function toolsFixture(
  options: { env?: Record<string, string>; clock?: Clock } = {},
): Promise<ToolsFixture> {
  const t = await createTestContext({ env: options.env, clock: options.clock });
  const a = await createTenant(t.ctx, {
    name: "Alpine Bakery",
    phone: "+18015550101",
    channel: "telegram",
    timezone: "America/Denver",
  });
  const b = await createTenant(t.ctx, { name: "Bravo Plumbing", phone: "+18015550102", channel: "telegram" });
  const c = await createTenant(t.ctx, { name: "Cedar Cafe", phone: "+18015550103", channel: "telegram" });
  await setTelegramChat(t.ctx.db, a.id, "111");
  await setTelegramChat(t.ctx.db, b.id, "222");
  const outbox: Enqueued[] = [];
  let wakes = 0;
  const tools = createAgentTools(t.ctx, {
    outbox: { enqueue: async (m) => void outbox.push(m) },
    scheduler: { wake: () => void wakes++ },
  });
  const app = createApp(t.ctx, { modules: [tools.routes] });
  return { ...t, tools, app, client: mcpClient(app), a, b, c, outbox, wakes: () => wakes };
}
