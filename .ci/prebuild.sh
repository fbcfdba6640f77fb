#!/usr/bin/env bash
# Release step: builds prebuilds/<platform>-<arch>/simplecached.<libc>.node (N-API: one binary serves
# every Node >= 18) for this machine, or for arm64 with a cross compiler; tagged with its libc.
# Usage: bash .ci/prebuild.sh [arm64]
#   here (linux x64, glibc):   bash .ci/prebuild.sh        (npm pack / publish also run it: prepack)
#   linux-arm64 from x64:      apt-get install -y g++-aarch64-linux-gnu; bash .ci/prebuild.sh arm64
#   linux-x64 musl (Alpine):   apk add build-base python3 nodejs npm; npm ci; bash .ci/prebuild.sh
# A release gathers every target's prebuilds/<target>/ into one checkout, then runs `npm publish`.
set -euo pipefail
cd "$(dirname "$0")/.."
# --tag-libc names the file simplecached.glibc.node or .musl.node: node-gyp-build then never
# hands one libc's binary to the other (an untagged glibc build would fail to load on Alpine).
args=(--napi --strip --tag-libc)
if [ "${1:-}" = arm64 ]; then
	export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++
	args+=(--arch arm64 --strip-bin aarch64-linux-gnu-strip)
fi
npx prebuildify "${args[@]}"
find prebuilds -name '*.node' -newer package.json -print
