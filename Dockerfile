# syntax=docker/dockerfile:1
# imagesearch container images. Two runtime targets:
#   docker build -t imagesearch .                               CPU (default: the last stage)
#   docker build --target runtime-cuda -t imagesearch:cuda .    NVIDIA GPU (CUDA 12 + cuDNN 9)
# The install step is the one CI runs (`npm ci --no-audit --no-fund`), plus --omit=dev: the app runs
# its TypeScript through tsx, a runtime dependency, so there is no build step and no dev tooling here.
# See docs/operations.md.

# ---- base: pinned Node 20 LTS on Debian bookworm ------------------------------------------------
FROM node:20.20.2-bookworm-slim AS base
WORKDIR /app
ENV NODE_ENV=production

# ---- deps: production node_modules (compilers only here, never in a runtime image) ---------------
FROM base AS build-tools
# Fallback toolchain for native modules whose prebuilt binary can't be fetched (sqlite3).
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./

FROM build-tools AS deps
# onnxruntime-node's postinstall would fetch CUDA libraries from NuGet: skipped for the CPU image
# (CPU and the bundled WebGPU provider need nothing extra).
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force

FROM build-tools AS deps-cuda
# The CUDA image wants exactly that download: the CUDA 12 execution provider libraries.
# (package.json's allowScripts denies that script to plain installs, so it is run here by name.)
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund \
  && ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js \
  && npm cache clean --force

# ---- runtime-cuda: NVIDIA runtime with cuDNN, Node copied from the pinned base --------------------
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS runtime-cuda
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --user-group --create-home --shell /usr/sbin/nologin imagesearch \
  && mkdir -p /app/data \
  && chown imagesearch:imagesearch /app/data
COPY --from=base /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
# Application files stay root-owned (read-only to the app); only /app/data is writable.
COPY --from=deps-cuda /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY adapters ./adapters
# As below: HOST=0.0.0.0 keeps the web chat off unless WEB_CHAT=1 (docs/security.md).
ENV NODE_ENV=production \
  HOST=0.0.0.0 \
  PORT=3000 \
  IMAGESEARCH_DATA_DIR=/app/data \
  IMAGESEARCH_EP=auto \
  NVIDIA_VISIBLE_DEVICES=all \
  NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER imagesearch
EXPOSE 3000
VOLUME /app/data
HEALTHCHECK --interval=30s --timeout=5s --start-period=5m --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/imagesearch.js", "serve"]

# ---- runtime: the default CPU image ---------------------------------------------------------------
FROM base AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /app/data \
  && chown node:node /app/data
# Application files stay root-owned (read-only to the app); only /app/data is writable.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY adapters ./adapters
# HOST=0.0.0.0 turns the web chat off unless WEB_CHAT=1 is set (it has no accounts): Slack's HTTP
# mode, /healthz, /readyz and /metrics are what this port serves by default. See docs/security.md.
ENV HOST=0.0.0.0 \
  PORT=3000 \
  IMAGESEARCH_DATA_DIR=/app/data
# The node image's unprivileged user (uid 1000).
USER node
EXPOSE 3000
VOLUME /app/data
# /healthz answers once the model and index are loaded; a first run downloads them (see start period).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5m --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini as PID 1: forwards SIGTERM to node (graceful shutdown) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/imagesearch.js", "serve"]
