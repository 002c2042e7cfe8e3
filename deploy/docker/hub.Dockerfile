# syntax=docker/dockerfile:1
# tablemesh-hub: the cloud hub (embedded MQTT broker, LevelDB store, HTTP API) as a container image.
# Build from the repository root:   docker build -f deploy/docker/hub.Dockerfile -t tablemesh-hub .
# Run:  docker run -p 1883:1883 -p 127.0.0.1:9480:9480 -v tablemesh-hub:/var/lib/tablemesh \
#         -e TM_HUB_HTTP__TOKEN=… -e TM_HUB_NODES__0__SECRET=… tablemesh-hub
# Configuration: /etc/tablemesh/hub.yaml (deploy/examples/hub.yaml; mount your own over it), then TM_HUB_*
# variables. Data: the volume /var/lib/tablemesh. The container runs as the unprivileged `node` user (uid 1000).
# Node.js 24 LTS by default (CI tests Node 20 and 24); --build-arg NODE_VERSION=20 for Node 20.
ARG NODE_VERSION=24

# ---- build: install everything, compile the hub and what it imports, then drop dev dependencies ----
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY packages ./packages
# classic-level installs a prebuilt LevelDB binding (linux x64 and arm64): no compiler is needed.
RUN npm ci --no-audit --no-fund \
 && npx tsc -b packages/hub \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages/core/package.json ./packages/core/package.json
COPY --from=build /src/packages/core/dist ./packages/core/dist
COPY --from=build /src/packages/runtime/package.json ./packages/runtime/package.json
COPY --from=build /src/packages/runtime/dist ./packages/runtime/dist
COPY --from=build /src/packages/hub/package.json ./packages/hub/package.json
COPY --from=build /src/packages/hub/dist ./packages/hub/dist
COPY deploy/examples/hub.yaml /etc/tablemesh/hub.yaml
# TM_HUB_* variables override the file: data in the volume, the API reachable through the container's network.
ENV TM_HUB_DATA_DIR=/var/lib/tablemesh \
    TM_HUB_HTTP__HOST=0.0.0.0
RUN mkdir -p /var/lib/tablemesh && chown node:node /var/lib/tablemesh
VOLUME /var/lib/tablemesh
USER node
# 1883: MQTT (edges); 9480: data + admin API (bearer token). Add 8883 when mqtt.tls is configured.
EXPOSE 1883 9480
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9480/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM: receipts in flight are finished, the store is flushed and closed (bin.ts).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/packages/hub/dist/bin.js"]
CMD ["--config", "/etc/tablemesh/hub.yaml"]
