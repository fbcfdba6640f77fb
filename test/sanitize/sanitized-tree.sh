#!/usr/bin/env bash
# sanitized-tree.sh NAME RUNTIME CFLAGS LDFLAGS CANARY_CFLAGS: copies the package into a new temporary
# directory, builds the addon there with a sanitizer, and the canary addon beside it; prints the path.
#
# A copy, so a sanitizer build never touches build/ (node_modules is linked, not copied). RUNTIME
# (libasan, libtsan) must show in the addon's ldd output: proof the flags reached the build.
set -euo pipefail
name=$1 runtime=$2 cflags=$3 ldflags=$4 canary_cflags=$5
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=$(mktemp -d "${TMPDIR:-/tmp}/simplecached-$name.XXXXXX")
fail() {
	echo "$name: $1" >&2
	rm -rf "$dest"
	exit 1
}
cd "$root"
cp -r csrc lib bin test docs index.js index.d.ts package.json binding.gyp .mocharc.json README.md LICENSE "$dest"/
ln -s "$root/node_modules" "$dest/node_modules"
cd "$dest"
CC=gcc CXX=g++ CFLAGS="$cflags" CXXFLAGS="$cflags" LDFLAGS="$ldflags" \
	npm run build --silent >build.log 2>&1 || { cat build.log >&2; fail "the addon did not build"; }
# grep reads all of ldd's output: with -q it could exit first, and pipefail would see SIGPIPE.
ldd build/Release/simplecached.node | grep "$runtime" >/dev/null || fail "the addon was built without $runtime"
node_include="$(dirname "$(dirname "$(command -v node)")")/include/node"
# shellcheck disable=SC2086 # the flags are words
gcc -shared -fPIC -g $canary_cflags -I"$node_include" "$here/canary.c" -o canary.node -lpthread || fail "the canary did not build"
echo "$dest"
