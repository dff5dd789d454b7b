# syntax=docker/dockerfile:1
# ProxyStaff: build the single executable with Bun (from npm), then run it on Debian slim next to
# what tenant agents need at run time: the Claude Code CLI (Node), Python 3 for tenant tool
# scripts, and bubblewrap for the per-run sandbox; plus the sqlite3 shell for the runbook's SQL
# (`fly ssh console`, then `sqlite3 $DATA_DIR/proxystaff.db`).

# ---- build: npm ci brings Bun as a devDependency; `npm run build` writes dist/proxystaff ----
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Only Bun's own install script is needed to build (it links the platform binary); skipping the
# others avoids compiling native modules that the binary never loads.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild bun
COPY . .
RUN npm run build && ./dist/proxystaff --version

# ---- runtime ----
FROM node:22-bookworm-slim AS runtime
ARG CLAUDE_CODE_VERSION=2.1.332
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 bubblewrap git sqlite3 \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g --no-audit --no-fund "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
 && npm cache clean --force \
 && claude --version

COPY --from=build /src/dist/proxystaff /usr/local/bin/proxystaff

# Everything that must survive a redeploy lives on the volume mounted at /data (fly.toml):
# the database, the generated keys, the Claude CLI's login and sessions, tenant workspaces.
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data \
    TENANTS_DIR=/data/tenants \
    AGENT_COMMAND=claude \
    AGENT_SANDBOX=bwrap \
    DISABLE_AUTOUPDATER=1
WORKDIR /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# `serve` stops gracefully on SIGTERM (docker stop) and SIGINT (Fly's default kill signal).
STOPSIGNAL SIGTERM
ENTRYPOINT ["proxystaff"]
CMD ["serve"]
