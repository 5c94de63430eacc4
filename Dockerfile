# syntax=docker/dockerfile:1.7
#
# opk-signer images (see README.md, "Signing in builds"):
#   sidecar  - the signing daemon alone: distroless, non-root, `opk-signer serve` on a unix socket.
#   buildkit - moby/buildkit plus the Node runtime and the sidecar. Its entrypoint starts the
#              sidecar on a unix socket inside the container, then execs buildkitd with the
#              arguments it was given (setup-buildx `driver-opts: image=...`).
#
#   docker buildx bake            # both targets, linux/amd64 + linux/arm64, SBOM + provenance

ARG NODE_VERSION=20.20
ARG BUILDKIT_VERSION=v0.32.2
ARG DISTROLESS_NODE=gcr.io/distroless/nodejs20-debian12:nonroot

# ---- build: compile TypeScript, then keep production dependencies only -----------------------
# Runs on the build platform: the output is JavaScript and every dependency is pure JS, so one
# build serves every target platform.
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script, so none gets to run one.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
COPY proto ./proto
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && mkdir -p /out/opt/opk-signer /out/run/opk-signer \
 && cp -r package.json dist proto node_modules /out/opt/opk-signer/

# ---- node runtime for the buildkit image (moby/buildkit is Alpine, so musl) ------------------
FROM node:${NODE_VERSION}-alpine AS node-musl

# ---- sidecar: the daemon alone ---------------------------------------------------------------
FROM ${DISTROLESS_NODE} AS sidecar
LABEL org.opencontainers.image.title="opk-signer sidecar" \
      org.opencontainers.image.description="OpenPubkey signing sidecar: gRPC opk.signer.v1.Signer on a unix socket" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/opt/opk-signer /opt/opk-signer
# The socket directory belongs to the non-root user (65532 in distroless :nonroot); mount a
# shared volume here so buildkitd can reach the socket.
COPY --from=build --chown=65532:65532 /out/run/opk-signer /run/opk-signer
USER 65532:65532
ENV NODE_ENV=production
VOLUME ["/run/opk-signer"]
ENTRYPOINT ["/nodejs/bin/node", "/opt/opk-signer/dist/cli/main.js", "serve"]
CMD ["--listen", "unix:///run/opk-signer/signer.sock"]

# ---- buildkit: moby/buildkit + Node + the sidecar --------------------------------------------
FROM moby/buildkit:${BUILDKIT_VERSION} AS buildkit
LABEL org.opencontainers.image.title="opk-signer buildkit" \
      org.opencontainers.image.description="moby/buildkit with the opk-signer sidecar on unix:///run/opk-signer/signer.sock" \
      org.opencontainers.image.licenses="Apache-2.0"
# node's own shared-library needs on Alpine; nothing else from the node image comes along.
RUN apk add --no-cache libstdc++ libgcc
COPY --from=node-musl /usr/local/bin/node /usr/local/bin/node
COPY --from=build /out/opt/opk-signer /opt/opk-signer
COPY --chmod=0755 docker/buildkit-entrypoint.sh /usr/local/bin/opk-buildkitd-entrypoint
ENV OPK_SIGNER_SOCKET=/run/opk-signer/signer.sock
# buildkitd runs as root in this image (as upstream's rootful image does); the sidecar shares the
# container and its socket stays 0600, reachable by buildkitd only.
ENTRYPOINT ["/usr/local/bin/opk-buildkitd-entrypoint"]
