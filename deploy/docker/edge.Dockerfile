# syntax=docker/dockerfile:1
# tablemesh-edge: the edge agent as a container image, with the example app (examples/sensor-alerts) for the
# compose demo. Build from the repository root:   docker build -f deploy/docker/edge.Dockerfile -t tablemesh-edge .
# Run:  docker run -v tablemesh-edge:/var/lib/tablemesh -e TM_EDGE_HUB__URL=mqtt://hub:1883 \
#         -e TM_EDGE_HUB__PASSWORD=… tablemesh-edge
# The edge's HTTP API stays on the container's loopback (SPEC §1: nothing reachable from outside): an app reaches
# it by sharing the container's network namespace (compose `network_mode: service:edge1`, a Kubernetes sidecar).
# Configuration: /etc/tablemesh/edge.yaml (deploy/examples/edge.yaml), then TM_EDGE_* variables. Data: the volume
# /var/lib/tablemesh. Runs as the unprivileged `node` user (uid 1000). linux/amd64 and linux/arm64 (LevelDB
# prebuilds for both are in classic-level). Node.js 24 LTS by default; --build-arg NODE_VERSION=20 for Node 20.
# Low-memory devices: docker run --env-file deploy/docker/edge-low-memory.env … (docs/memory.md).
ARG NODE_VERSION=24

# ---- build: install everything, compile the edge and what it imports, then drop dev dependencies ----
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY packages ./packages
RUN npm ci --no-audit --no-fund \
 && npx tsc -b packages/edge \
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
COPY --from=build /src/packages/edge/package.json ./packages/edge/package.json
COPY --from=build /src/packages/edge/dist ./packages/edge/dist
COPY examples ./examples
COPY deploy/examples/edge.yaml /etc/tablemesh/edge.yaml
ENV TM_EDGE_DATA_DIR=/var/lib/tablemesh
RUN mkdir -p /var/lib/tablemesh && chown node:node /var/lib/tablemesh
VOLUME /var/lib/tablemesh
USER node
# No EXPOSE: the local API listens on 127.0.0.1:9380 and the edge only connects out (MQTT to the hub).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9380/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM: the store is flushed and closed; unreceipted outbox entries stay queued for the next start (I6).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/packages/edge/dist/bin.js"]
CMD ["--config", "/etc/tablemesh/edge.yaml"]
