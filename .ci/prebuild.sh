#!/usr/bin/env bash
# Release step: builds prebuilds/<platform>-<arch>/simplecached.<libc>.node (N-API: one binary serves
# every Node >= 18) for this machine, or for arm64 with a cross compiler; tagged with its libc.
# Usage: bash .ci/prebuild.sh [arm64]     (npm pack / publish run it with no argument: prepack)
#   here (linux x64, glibc):   bash .ci/prebuild.sh
#   linux-arm64 from x64:      apt-get install -y g++-aarch64-linux-gnu; bash .ci/prebuild.sh arm64
#   linux-x64 musl (Alpine):   apk add bash build-base python3 nodejs npm; npm ci; bash .ci/prebuild.sh
# A release gathers every target's prebuilds/<target>/ into one checkout, then runs `npm publish`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# --tag-libc names the file simplecached.glibc.node or .musl.node: node-gyp-build then never
# hands one libc's binary to the other (an untagged glibc build would fail to load on Alpine).
args=(--napi --strip --tag-libc)
if [ "${1:-}" = arm64 ]; then
	export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++
	args+=(--arch arm64 --strip-bin aarch64-linux-gnu-strip)
fi
# prebuildify compiles in build/ and removes it: work in a copy, so a developer's own build stays.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/simplecached-prebuild.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cp -r "$root/csrc" "$root/binding.gyp" "$root/package.json" "$scratch"/
ln -s "$root/node_modules" "$scratch/node_modules"
(cd "$scratch" && "$root/node_modules/.bin/prebuildify" "${args[@]}")
mkdir -p "$root/prebuilds"
cp -r "$scratch"/prebuilds/* "$root/prebuilds/"
find "$root/prebuilds" -name '*.node' -newer "$root/package.json" -print
