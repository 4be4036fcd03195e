# syntax=docker/dockerfile:1
# The bus sidecar's image: built with the dev dependencies, run with the production ones only.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the runtime dependencies need none, and none should run in the image.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The sidecar needs no privilege: its port is above 1024, and the only file it writes is its small
# restart journal (under /tmp by default; see the stateDir setting).
USER node
# Odoo's gevent_port: where the reverse proxy already sends /websocket and /longpolling.
EXPOSE 8072
# The admin port (/metrics, /healthz, /readyz, /status): for the private network only. It listens
# on loopback unless SIDECAR_ADMIN_HOST says otherwise (0.0.0.0 to be scraped from outside).
EXPOSE 9072
# Ready: LISTEN connected, reads of bus_bus working, Odoo's addon answering (/readyz on the admin
# port). Node itself asks, so the slim image needs no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SIDECAR_ADMIN_PORT || 9072) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# V8's young generation capped at 1 MiB per semi-space: left at its default it grows to about 100 MiB
# while thousands of sockets subscribe and stays committed while they sit idle (about 20 KB per
# socket at 5,000 in RSS); the sidecar's garbage is short-lived and small, so the cost is a few
# more, quicker scavenges. Worker processes (SIDECAR_WORKERS) inherit it.
ENV NODE_OPTIONS=--max-semi-space-size=1
# Two malloc arenas instead of eight per core: V8's background threads (GC, compiler) otherwise
# each keep an arena of freed memory after a burst of subscribes (measured: 0.5-2 KB of RSS per
# idle socket at 5,000, within the noise of a shared machine).
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["node", "dist/main.js"]
