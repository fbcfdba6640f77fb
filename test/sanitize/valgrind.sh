#!/usr/bin/env bash
# valgrind.sh: `npm run test:valgrind` — the C-level test drivers (test/c/engine_test.c, snapshot_test.c, and
# transport_test.c where libuv1-dev is installed) and the fuzz targets replaying their corpora and
# regressions, built without sanitizers and run under valgrind's memcheck. Any error or leak fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d "${TMPDIR:-/tmp}/simplecached-valgrind.XXXXXX")
trap 'rm -rf "$out"' EXIT

cflags=(-std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Icsrc -Itest/c -Itest/fuzz)
read -ra engine <<<"$(node test/c/sources.js engine)"
read -ra store <<<"$(node test/c/sources.js store)"
read -ra transport <<<"$(node test/c/sources.js transport)"
protocol=(test/fuzz/replay_main.c test/fuzz/fuzz_protocol.c test/fuzz/fake_clock.c "${engine[@]}" -Wl,--wrap=time -Wl,--wrap=store_random_seed -Wl,--wrap=getrusage)
cc "${cflags[@]}" -o "$out/engine_test" test/c/engine_test.c test/c/store_diff.c "${engine[@]}" -lpthread
cc "${cflags[@]}" -DFUZZ_PROTOCOL=PROTOCOL_SIMPLE -o "$out/fuzz_simple" "${protocol[@]}" -lpthread
cc "${cflags[@]}" -DFUZZ_PROTOCOL=PROTOCOL_MEMCACHED -o "$out/fuzz_text" "${protocol[@]}" -lpthread
cc "${cflags[@]}" -o "$out/fuzz_binary" test/fuzz/replay_main.c test/fuzz/fuzz_binary.c test/fuzz/fake_clock.c "${engine[@]}" -Wl,--wrap=time -Wl,--wrap=store_random_seed -Wl,--wrap=getrusage -lpthread
cc "${cflags[@]}" -o "$out/fuzz_store" test/fuzz/replay_main.c test/fuzz/fuzz_store.c test/c/store_diff.c "${store[@]}"
cc "${cflags[@]}" -o "$out/snapshot_test" test/c/snapshot_test.c "${engine[@]}" -lpthread
cc "${cflags[@]}" -o "$out/fuzz_snapshot" test/fuzz/replay_main.c test/fuzz/fuzz_snapshot.c test/fuzz/fake_clock.c "${engine[@]}" -Wl,--wrap=time -Wl,--wrap=store_random_seed -Wl,--wrap=getrusage -lpthread

memcheck=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all
	--track-origins=yes)
inputs() { find "test/fuzz/corpus/$1" "test/fuzz/regressions/$1" -type f 2>/dev/null | sort; }

echo "valgrind: engine_test"
"${memcheck[@]}" "$out/engine_test"
echo "valgrind: snapshot_test"
"${memcheck[@]}" "$out/snapshot_test"
if [ -e /usr/include/uv.h ]; then
	cc "${cflags[@]}" -o "$out/transport_test" test/c/transport_test.c "${engine[@]}" "${transport[@]}" -luv -lpthread
	echo "valgrind: transport_test"
	"${memcheck[@]}" "$out/transport_test"
else
	echo "valgrind: transport_test skipped: no libuv headers (sudo apt-get install -y libuv1-dev)"
	# As test/helpers/references.js: under CI or SIMPLECACHED_REQUIRE_REFERENCES=1, missing is a failure.
	case "${CI:-}" in '' | 0 | false) ;; *) exit 1 ;; esac
	[ "${SIMPLECACHED_REQUIRE_REFERENCES:-}" != 1 ] || exit 1
fi
for target in simple text binary store snapshot; do
	echo "valgrind: fuzz_$target over its corpus and regressions"
	mapfile -t files < <(inputs "$target")
	"${memcheck[@]}" "$out/fuzz_$target" "${files[@]}"
done
echo "valgrind: no errors, no leaks"
