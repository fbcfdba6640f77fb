#!/usr/bin/env bash
# Runs `npm test` N times in a row (default 20) while a busy loop holds every core, and stops at the
# first failure: the suite must not depend on timing. Usage: bash test/tools/stress.sh [N]
set -uo pipefail
runs=${1:-20}
cores=$(nproc)
burners=()
for _ in $(seq "$cores"); do
	(while :; do :; done) &
	burners+=($!)
done
trap 'kill "${burners[@]}" 2>/dev/null' EXIT
log=$(mktemp /tmp/simplecached-stress.XXXXXX)
for run in $(seq "$runs"); do
	start=$(date +%s)
	if npm test >"$log" 2>&1; then
		echo "run $run/$runs: passed in $(($(date +%s) - start)) s ($(grep -Eo '[0-9]+ passing' "$log"), $(grep -Eo '[0-9]+ pending' "$log" || echo '0 pending'))"
	else
		echo "run $run/$runs: FAILED after $(($(date +%s) - start)) s; output kept in $log"
		grep -A30 -E '^\s+[0-9]+ failing' "$log"
		exit 1
	fi
done
rm -f "$log"
echo "all $runs runs passed with $cores busy loops running"
