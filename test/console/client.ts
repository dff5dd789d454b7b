import type { Hono } from "hono";
import { consoleRoutes } from "../../src/console/index.ts";
import { createApp } from "../../src/http/app.ts";
import { HealthRegistry } from "../../src/http/health.ts";
import type { TestContext } from "../helpers/index.ts";
import { TEST_ADMIN_KEY } from "../helpers/index.ts";

export const ORIGIN = "http://localhost";

/** The HTTP app with the console mounted, and a tiny browser: one cookie jar, forms posted with the page's Origin. */
export class ConsoleClient {
  readonly app: Hono;
  cookie = "";
  constructor(t: TestContext, health = new HealthRegistry()) {
    this.app = createApp(t.ctx, { health, modules: [consoleRoutes(t.ctx, health)] });
  }

  async get(path: string): Promise<Response> {
    return this.app.request(path, { headers: this.cookie ? { cookie: this.cookie } : {} });
  }

  async post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.app.request(path, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: ORIGIN,
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...headers,
      },
      body: new URLSearchParams(fields).toString(),
    });
    const set = res.headers.get("set-cookie");
    if (set) this.cookie = set.split(";")[0] as string;
    return res;
  }

  async signIn(key = TEST_ADMIN_KEY): Promise<Response> {
    return this.post("/console/sign-in", { key });
  }

  /** The CSRF token of the signed-in session, read from a page's form. */
  async csrfToken(): Promise<string> {
    const html = await (await this.get("/console")).text();
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
    if (!token) throw new Error("no CSRF field on the overview");
    return token;
  }
}
