# syntax=docker/dockerfile:1
# pricealert's image: the compiled CLI on Node 20, production dependencies only, run as a user without
# root. `docker build -t pricealert .`, then e.g. `docker run -p 4000:4000 -v pa-data:/app/data pricealert`
# (the embedded store inside), or docker-compose.yml for a KurrentDB cluster and a process per role.
ARG NODE_VERSION=20

# Build: `npm ci` installs every dependency (better-sqlite3 compiled from source here, as in CI) and its
# `prepare` step builds dist/; then the development dependencies are dropped.
FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json tsconfig.client.json ./
COPY bin ./bin
COPY schema ./schema
COPY projections ./projections
COPY src ./src
RUN --mount=type=cache,target=/root/.npm \
  npm_config_build_from_source=true npm ci --no-audit --no-fund \
  && npm prune --omit=dev --no-audit --no-fund

# Runtime: what the compiled bin reads, and nothing else (no sources, no compilers, no tsx); the
# lockfile says which client version is installed.
FROM node:${NODE_VERSION}-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/schema ./schema
# The files stay root's and read-only to the app; only the data dir (token secret, reactor snapshot,
# an embedded store) is the app's.
RUN ln -s /app/bin/pricealert.js /usr/local/bin/pricealert \
  && mkdir -p /app/data \
  && chown node:node /app/data
ENV HOST=0.0.0.0 \
  PORT=4000 \
  PRICEALERT_DATA_DIR=/app/data
USER node
EXPOSE 4000
# Every role answers /ready on PORT: 200 once its projections have caught up with the store.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["pricealert"]
CMD ["serve"]
