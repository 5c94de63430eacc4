#!/usr/bin/env bash
# Builds the sidecar image from the Dockerfile under a private dockerd and runs it for real
# (test/e2e/shipping/image.test.ts). Needs root, docker.io and debootstrap (installed here if
# missing), the npm registry and a Debian mirror. About 1-2 minutes; the debootstrap root file
# system is cached in ${OPK_IMAGE_TEST_CACHE:-/var/tmp/opk-signer-image-test}.
set -euo pipefail
cd "$(dirname "$0")/../../.."
missing=()
for p in docker.io debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
OPK_IMAGE_TEST=1 exec npx vitest run test/e2e/shipping/image.test.ts "$@"
