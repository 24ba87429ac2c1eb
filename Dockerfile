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
ENV MALLOC_ARENA_MAX=2
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
