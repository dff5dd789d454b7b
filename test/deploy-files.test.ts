// Dockerfile and fly.toml can't be exercised here (no Docker daemon, no Fly); check that they say
// what DESIGN and docs/operations.md promise, and agree with each other and package.json.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { REPO_ROOT } from "./helpers/index.ts";

const fly = Bun.TOML.parse(readFileSync(join(REPO_ROOT, "fly.toml"), "utf8")) as {
  kill_signal: string;
  env: Record<string, string>;
  mounts: { source: string; destination: string };
  http_service: {
    internal_port: number;
    auto_stop_machines: string;
    min_machines_running: number;
    checks: { path: string; method: string }[];
  };
};
const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");

describe("fly.toml", () => {
  test("volume at /data, data and tenants on it, bubblewrap required", () => {
    expect(fly.mounts.destination).toBe("/data");
    expect(fly.env).toMatchObject({
      DATA_DIR: "/data",
      TENANTS_DIR: "/data/tenants",
      AGENT_SANDBOX: "bwrap",
      PORT: "3000",
    });
  });

  test("one machine always on, HTTP health check on /health, internal port 3000", () => {
    expect(fly.http_service.internal_port).toBe(3000);
    expect(fly.http_service.auto_stop_machines).toBe("off");
    expect(fly.http_service.min_machines_running).toBe(1);
    expect(fly.http_service.checks).toContainEqual(expect.objectContaining({ path: "/health", method: "GET" }));
    expect(["SIGTERM", "SIGINT"]).toContain(fly.kill_signal);
  });
});

describe("Dockerfile", () => {
  test("multi-stage: builds the binary with npm's Bun, runs it on Debian slim", () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^FROM \S+-slim AS build$/m);
    expect(dockerfile).toMatch(/^FROM \S+-slim AS runtime$/m);
    expect(dockerfile).toContain("npm run build");
    expect(dockerfile).toContain("COPY --from=build /src/dist/proxystaff");
  });

  test("runtime has Python 3, bubblewrap, CA certificates, the sqlite3 shell and the pinned Claude Code CLI", () => {
    const runtime = dockerfile.slice(dockerfile.indexOf("AS runtime"));
    const install =
      /apt-get install -y --no-install-recommends ([^\\\n]+)/.exec(runtime)?.[1]?.trim().split(/\s+/) ?? [];
    expect(install).toEqual(expect.arrayContaining(["python3", "bubblewrap", "ca-certificates", "sqlite3"]));
    expect(dockerfile).toContain(`ARG CLAUDE_CODE_VERSION=${pkg.dependencies["@anthropic-ai/claude-code"]}`);
    expect(dockerfile).toContain('"@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}"');
  });

  test("environment matches fly.toml; serve is the default command", () => {
    for (const line of ["DATA_DIR=/data", "TENANTS_DIR=/data/tenants", "AGENT_SANDBOX=bwrap", "PORT=3000"])
      expect(dockerfile).toContain(line);
    expect(dockerfile).toContain('ENTRYPOINT ["proxystaff"]');
    expect(dockerfile).toContain('CMD ["serve"]');
  });
});
