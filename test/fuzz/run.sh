#!/usr/bin/env bash
# run.sh: builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined) and runs
# each for a given time, one after the other on one core. Usage: test/fuzz/run.sh [seconds] [target...]
# Targets: simple, text, binary (protocol engines on a real store), store (differential against a model),
# snapshot (the snapshot file loader).
# The growing corpus and any crashing input stay in build-fuzz/; exit status 1 if a target failed.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-${FUZZ_SECONDS:-60}}
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(simple text binary store snapshot)
out=${FUZZ_OUT:-build-fuzz}
cc=${FUZZ_CC:-clang}
mkdir -p "$out/bin" "$out/artifacts"

flags=(-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Icsrc -Itest/c -Itest/fuzz)
read -ra engine_sources <<<"$(node test/c/sources.js engine)"
read -ra store_sources <<<"$(node test/c/sources.js store)"
engine=("${engine_sources[@]}" test/fuzz/fake_clock.c -Wl,--wrap=time -Wl,--wrap=store_random_seed -Wl,--wrap=getrusage -lpthread)

build() {
	case "$1" in
	simple) "$cc" "${flags[@]}" -DFUZZ_PROTOCOL=PROTOCOL_SIMPLE test/fuzz/fuzz_protocol.c "${engine[@]}" -o "$out/bin/fuzz_simple" ;;
	text) "$cc" "${flags[@]}" -DFUZZ_PROTOCOL=PROTOCOL_MEMCACHED test/fuzz/fuzz_protocol.c "${engine[@]}" -o "$out/bin/fuzz_text" ;;
	binary) "$cc" "${flags[@]}" test/fuzz/fuzz_binary.c "${engine[@]}" -o "$out/bin/fuzz_binary" ;;
	store) "$cc" "${flags[@]}" test/fuzz/fuzz_store.c test/c/store_diff.c "${store_sources[@]}" -o "$out/bin/fuzz_store" ;;
	snapshot) "$cc" "${flags[@]}" test/fuzz/fuzz_snapshot.c "${engine[@]}" -o "$out/bin/fuzz_snapshot" ;;
	*) echo "unknown fuzz target: $1" >&2; return 2 ;;
	esac
}

# Protocol inputs may carry lines past memcached's 2 KiB limit and the data blocks after them.
options() {
	case "$1" in
	simple) echo "-dict=test/fuzz/simple.dict -max_len=8192" ;;
	text) echo "-dict=test/fuzz/text.dict -max_len=8192" ;;
	binary) echo "-dict=test/fuzz/binary.dict -max_len=8192" ;;
	store) echo "-max_len=4096" ;;
	snapshot) echo "-max_len=16384" ;;
	esac
}

failed=0
for target in "${targets[@]}"; do
	build "$target"
	corpus="$out/corpus/$target"
	mkdir -p "$corpus"
	log="$out/$target.log"
	echo "fuzz_$target: ${seconds}s, corpus $corpus (seeds test/fuzz/corpus/$target), log $log"
	# shellcheck disable=SC2046
	if "$out/bin/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="$out/artifacts/$target-" $(options "$target") "$corpus" "test/fuzz/corpus/$target" >"$log" 2>&1; then
		status=ok
	else
		status=FAILED
		failed=1
	fi
	# libFuzzer's last status line (executions, coverage, features, corpus) and its final stats.
	summary=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
	rate=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
	echo "fuzz_$target: $status; $summary; average exec/s ${rate:-?}; corpus files $(find "$corpus" -type f | wc -l)"
	[ "$status" = ok ] || { grep -E 'ERROR|fuzz_protocol:|store_diff:|SUMMARY|artifact' "$log" | head -20; }
done
exit "$failed"
