#!/usr/bin/env bash
# copy-tree.sh: copies the package (sources, tests, binding.gyp; node_modules linked, not copied)
# into a new temporary directory and prints its path, so a sanitizer build never touches build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=$(mktemp -d "${TMPDIR:-/tmp}/simplecached-${1:-sanitize}.XXXXXX")
cd "$root"
cp -r csrc lib bin test index.js index.d.ts package.json binding.gyp .mocharc.json README.md "$dest"/
ln -s "$root/node_modules" "$dest/node_modules"
echo "$dest"
