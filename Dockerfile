# One image for the rekey worker and the rekey API (docker-compose.yml runs both), plus the reference
# gateway and the demo seed of the compose `demo` profile. Two commands, both npm scripts:
#   docker run rekey api       → npm run api     (the HTTP API, port 8080)
#   docker run rekey worker    → npm run worker  (the Temporal worker, /metrics on 9464 and 9465)
# The TypeScript runs through tsx, as in development (no build step that could drift from the
# sources), so `npm ci` installs devDependencies too: tsx is one of them.
FROM node:24.21.0-bookworm-slim

# openssl: only the compose demo profile uses it, to make the Lowkey Vault certificate (demo-tls).
RUN apt-get update \
  && apt-get install -y --no-install-recommends openssl ca-certificates tini \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production \
  npm_config_update_notifier=false \
  npm_config_fund=false \
  npm_config_audit=false

COPY package.json package-lock.json ./
# NODE_ENV=production would make npm ci omit devDependencies, tsx among them: include them explicitly.
RUN npm ci --include=dev && npm cache clean --force

COPY . .

# The workflow code bundled once, at build time, from the sources just copied: the worker loads this file
# (REKEY_WORKFLOW_BUNDLE_FILE) instead of running webpack at every start (about 100 MiB less RSS, seconds
# sooner polling). Rebuilt with the image, so it can never drift from the sources beside it.
RUN mkdir -p /app/.workflow-bundle && npx tsx worker.ts --write-bundle /app/.workflow-bundle/workflows.js

# Where the settings point inside the container (config/settings.ts names them; compose sets them too):
# the registry and the token hashes are mounted at /etc/rekey, evidence is kept in a volume.
RUN mkdir -p /etc/rekey /var/lib/rekey/evidence /var/lib/rekey/app-reports /var/lib/rekey/demo \
  && chown -R node:node /var/lib/rekey
ENV REKEY_CREDENTIALS_FILE=/etc/rekey/credentials.yaml \
  REKEY_WORKFLOW_BUNDLE_FILE=/app/.workflow-bundle/workflows.js \
  REKEY_API_TOKENS_FILE=/etc/rekey/api-tokens.yaml \
  REKEY_EVIDENCE_DIR=/var/lib/rekey/evidence \
  REKEY_APP_REPORTS_DIR=/var/lib/rekey/app-reports \
  REKEY_API_HOST=0.0.0.0 \
  REKEY_API_PORT=8080 \
  REKEY_WORKER_METRICS_HOST=0.0.0.0

# Never root: the node image's own unprivileged user.
USER node
EXPOSE 8080 9464 9465

# tini forwards SIGTERM to npm, which passes it to the API or worker for a graceful stop.
ENTRYPOINT ["/usr/bin/tini", "--", "npm", "run", "--silent"]
CMD ["api"]
