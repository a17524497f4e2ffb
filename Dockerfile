# One image, every role: `docker run IMAGE api|worker|scheduler|all`.
FROM node:20-slim AS build
WORKDIR /app
# No update check, funding or audit calls during the build.
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
ENV NODE_ENV=production npm_config_update_notifier=false
WORKDIR /app
# Only what runs: the compiled program and its production dependencies (no tsx, no esbuild).
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The dashboard's page, script and styles, served as they are.
COPY public ./public
# The generated admin token (when BSM_API_KEYS is empty) is kept here: mount a volume.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
# The api (and all) role answers /health; a worker or scheduler checks its Redis. Compose passes
# the role to the check (see docker-compose.yml); run alone, the image checks the api.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "dist/healthcheck.js", "api"]
ENTRYPOINT ["node", "dist/main.js"]
CMD ["all"]
