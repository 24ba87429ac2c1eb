# Portrait worker image. Build: docker build -t portrait-worker .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production PORTRAIT_HOME=/var/lib/portrait PORTRAIT_SNAPSHOT_DIR=/var/lib/portrait/snapshots
# glibc gives every thread that allocates a malloc arena of its own and keeps it: a worker that starts and stops
# ingest, clean and scoring threads every day held ~1.4 GB on its second 200k day, ~1.0 GB with two arenas.
# Past its first free of a large block glibc raises the size it serves from mmap (up to 32 MB), so the 1 MB COPY and
# batch buffers of ingest, clean and scoring come from arenas and stay resident: 1M customers, day 2's worker peak
# 1,626 MB with the default, 1,235 MB with a fixed 128 kB threshold (docs/PERFORMANCE.md).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
ARG GIT_COMMIT=unknown
ENV PORTRAIT_GIT_COMMIT=$GIT_COMMIT
RUN mkdir -p /var/lib/portrait && chown node:node /var/lib/portrait
USER node
ENTRYPOINT ["node", "dist/cli/portrait.js"]
CMD ["worker"]
