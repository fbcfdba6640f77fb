#!/usr/bin/env bash
# `npm run test:package`: packs simplecached as npm publishes it, installs the tarball into a new
# app with no compiler, make or python on PATH, and serves a set and a get from the prebuilt addon.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/simplecached-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

# prepack builds prebuilds/<platform>-<arch> first, so the tarball carries a fresh binary.
(cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null)
tarball=$(ls "$work"/simplecached-*.tgz)
tar -tzf "$tarball" | grep '^package/prebuilds/linux-x64/.*\.node$' >/dev/null || { echo "package.sh: the tarball has no linux-x64 prebuild" >&2; exit 1; }

# A PATH with node, npm and sh only: a compile attempt would fail at once.
mkdir -p "$work/bin" "$work/app"
for tool in node npm npx sh; do ln -s "$(command -v "$tool")" "$work/bin/$tool"; done
for tool in cc gcc g++ c++ make python3 python; do
	if PATH="$work/bin" command -v "$tool" >/dev/null 2>&1; then echo "package.sh: $tool is still reachable" >&2; exit 1; fi
done

cd "$work/app"
echo '{ "name": "app", "private": true }' >package.json
PATH="$work/bin" npm install --no-audit --no-fund --loglevel=error "$tarball"
[ ! -d node_modules/simplecached/build ] || { echo "package.sh: npm install compiled the addon" >&2; exit 1; }

PATH="$work/bin" node -e "
const { Server, Client } = require('simplecached');
const server = new Server({ port: 0 }, async (err) => {
	if (err) throw err;
	const client = new Client({ port: server.address().port });
	await client.set('packaged', 'works');
	const value = await client.get('packaged');
	await client.close();
	await server.close();
	if (value !== 'works') throw new Error('get returned ' + value);
	console.log('package.sh: the tarball installs without a compiler and serves (' + require('simplecached/package.json').version + ')');
});
"
