#!/usr/bin/env bash
# Release step: builds prebuilds/<platform>-<arch>/simplecached.node (N-API, so one binary serves
# every Node >= 18) for this machine, or for arm64 with a cross compiler; musl hosts get a libc tag.
# Usage: bash .ci/prebuild.sh [arm64]
#   here (linux x64, glibc):   bash .ci/prebuild.sh        (npm pack / publish also run it: prepack)
#   linux-arm64 from x64:      apt-get install -y g++-aarch64-linux-gnu; bash .ci/prebuild.sh arm64
#   linux-x64 musl (Alpine):   apk add build-base python3 nodejs npm; npm ci; bash .ci/prebuild.sh
# A release gathers every target's prebuilds/<target>/ into one checkout, then runs `npm publish`.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(--napi --strip)
if [ "${1:-}" = arm64 ]; then
	export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ STRIP=aarch64-linux-gnu-strip
	args+=(--arch arm64)
fi
# On musl the binary is tagged so that glibc machines never load it (node-gyp-build reads the tag).
if ldd --version 2>&1 | grep -qi musl; then args+=(--tag-libc); fi
npx prebuildify "${args[@]}"
find prebuilds -name '*.node' -newer package.json -print
