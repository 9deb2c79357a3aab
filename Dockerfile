# Build stage: compile TypeScript with the full toolchain.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
RUN npm run build

# Runtime stage: production dependencies and the built CLI only, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
USER node
EXPOSE 6432
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["--config", "/etc/sluice/sluice.yaml"]
