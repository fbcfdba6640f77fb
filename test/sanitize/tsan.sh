#!/usr/bin/env bash
# tsan.sh: `npm run test:tsan` — the addon built with ThreadSanitizer in a copy of the tree, then
# the tests where threads meet (I/O threads, background saves, histograms, watchers) run by node
# with the TSan runtime preloaded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=$("$here/sanitized-tree.sh" tsan libtsan "-fsanitize=thread -fno-omit-frame-pointer -g -O1 -UNDEBUG" \
	"-fsanitize=thread" "-O1 -fsanitize=thread")
trap 'rm -rf "$tree"' EXIT
cd "$tree"

# This TSan cannot map its shadow memory when the kernel randomises mmap with more than 28 bits
# (vm.mmap_rnd_bits = 32 on some kernels): run without address randomisation where allowed.
norandom=()
if setarch "$(uname -m)" -R true 2>/dev/null; then norandom=(setarch "$(uname -m)" -R); fi

# Node is not instrumented, so TSan sees only the addon's accesses plus what it intercepts
# (pthread, libc). tsan-node.supp names the reports inside Node's own threads only.
export LD_PRELOAD="$(gcc -print-file-name=libtsan.so)"
export TSAN_OPTIONS="suppressions=$here/tsan-node.supp:print_suppressions=1:exitcode=86"

# The check must be live and the suppressions must not hide an addon's race: the canary's has to
# be reported.
if "${norandom[@]}" node -e "require('./canary.node').race()" >canary.log 2>&1 || ! grep -q 'canary_writer' canary.log; then
	echo "tsan.sh: the canary's data race was not reported; TSan is not working" >&2
	cat canary.log >&2
	exit 1
fi
echo "tsan.sh: canary race reported as it should be; running the thread tests"

# npx dies under TSan: run mocha's script directly, without .mocharc.json's list of every test.
# By default the tests where threads meet: I/O threads, saves beside the loop, the latency
# histograms of several threads, watchers woken across loops, one Engine shared by worker threads.
[ $# -gt 0 ] || set -- test/90.threads.test.js test/91.engine-shared.test.js test/52.restart.test.js test/47.metrics.test.js test/49.watch-logs.test.js
"${norandom[@]}" node node_modules/mocha/bin/mocha.js --no-config --timeout 120000 --reporter spec "$@"
