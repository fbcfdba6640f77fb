#!/usr/bin/env bash
# Runs a command as on a machine without the reference tools: memcached, nutcracker, libmemcached's
# tools, openssl and clang hidden from PATH, and Python's pymemcache and pylibmc made unimportable.
# Usage: bash test/tools/without-references.sh npm test
set -euo pipefail
hidden='^(memcached|nutcracker|memc[a-z]*|openssl|clang.*|llvm-.*)$'
shim=$(mktemp -d /tmp/simplecached-noref.XXXXXX)
trap 'rm -rf "$shim"' EXIT
mkdir -p "$shim/bin" "$shim/python"
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
	[ -d "$dir" ] || continue
	for tool in "$dir"/*; do
		name=$(basename "$tool")
		[[ $name =~ $hidden ]] && continue
		[ -x "$tool" ] && [ ! -e "$shim/bin/$name" ] && ln -s "$tool" "$shim/bin/$name"
	done
done
for module in pymemcache pylibmc; do
	echo "raise ImportError('$module is hidden by test/tools/without-references.sh')" >"$shim/python/$module.py"
done
PATH="$shim/bin" PYTHONPATH="$shim/python${PYTHONPATH:+:$PYTHONPATH}" "$@"
