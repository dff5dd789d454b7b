import type { Hono } from "hono";
import { adminRoutes } from "../../../src/http/admin/index.ts";
import { createApp } from "../../../src/http/app.ts";
import type { Tenant } from "../../../src/tenants/index.ts";
import { createTenant } from "../../../src/tenants/index.ts";
import type { FreshOptions, TestContext, TestContextOptions } from "../../helpers/index.ts";
import { createTestContext, freshEachTest, TEST_ADMIN_KEY } from "../../helpers/index.ts";

/** An in-process app with only the admin routes, over a fresh temp database. */
export interface AdminHarness {
  t: TestContext;
  app: Hono;
  /** app.request with the admin key and a JSON body (when given). */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Same, parsed: status and JSON body. */
  json<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  tenant(
    overrides?: Partial<{ name: string; phone: string; channel: "telegram" | "whatsapp"; timezone: string }>,
  ): Promise<Tenant>;
  cleanup(): Promise<void>;
}

let phoneCounter = 0;

export async function adminHarness(options: TestContextOptions = {}): Promise<AdminHarness> {
  const t = await createTestContext(options);
  const app = createApp(t.ctx, { modules: [adminRoutes(t.ctx)] });
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> =>
    app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${TEST_ADMIN_KEY}`,
        ...(body !== undefined && { "content-type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  return {
    t,
    app,
    call,
    async json<T>(method: string, path: string, body?: unknown) {
      const res = await call(method, path, body);
      return { status: res.status, body: (await res.json()) as T };
    },
    tenant: (overrides = {}) =>
      createTenant(t.ctx, {
        name: "Acme Plumbing",
        phone: `+1801555${String(1000 + phoneCounter++).padStart(4, "0")}`,
        channel: "telegram",
        ...overrides,
      }),
    cleanup: () => t.cleanup(),
  };
}

/** A parsed JSON answer, loosely typed for the tests' property checks. */
export type Json = Record<string, any>;

/**
 * Registers the hooks that give every test (`per: "test"`, the default) or the whole file (`per: "file"`) a fresh
 * harness and clean it up after, and returns a handle that always speaks for the current one. `options` may be a
 * function, read when the harness is made (e.g. for a port known only after a beforeAll).
 */
export function useAdminHarness(
  options: TestContextOptions | (() => TestContextOptions) = {},
  fresh: FreshOptions = {},
): AdminHarness {
  return freshEachTest(
    () => adminHarness(typeof options === "function" ? options() : options),
    (h) => h.cleanup(),
    fresh,
  );
}

/** A random UUID that names no tenant. */
export const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";
