# One image for every Parley app; the container's command names the app:
#   node scripts/run-dist.js actors|projector|gateway
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps apps
COPY libs libs
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/tsconfig.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY apps/gateway/public apps/gateway/public
COPY scripts/run-dist.js scripts/run-dist.js
USER node
CMD ["node", "scripts/run-dist.js", "gateway"]
