#!/usr/bin/env bash
# asan.sh: `npm run test:asan` — the addon built with AddressSanitizer and UBSan (and asserts) in a
# copy of the tree, then the whole mocha suite run by node with the ASan runtime preloaded. Any report fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=$("$here/sanitized-tree.sh" asan libasan \
	"-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -UNDEBUG" \
	"-fsanitize=address,undefined" "-O0 -fsanitize=address")
trap 'rm -rf "$tree"' EXIT
cd "$tree"

# Node is not instrumented: the runtime must be loaded before it. Leaks are checked in the mocha
# process, where the engine and the servers of most tests live; lsan-node.supp names only leaks
# of Node itself. Child processes (CLI servers, compilers, Python clients) inherit the preload
# but not the leak check (see children.js). exitcode 86 tells a report from a failing test.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
# intercept_tls_get_addr=0: up to GCC 13 the runtime's __tls_get_addr interceptor can take a
# malloc'd block for a pre-2.25 glibc TLS header by the coincidence of its address, and the leak
# check's tracer then crashes at exit ("Tracer caught signal 11", no leak reported): seen once in
# three runs here, and documented by other projects (Mudlet #9809/#9930).
export ASAN_OPTIONS="detect_leaks=1:exitcode=86:intercept_tls_get_addr=0"
export LSAN_OPTIONS="suppressions=$here/lsan-node.supp:print_suppressions=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86"

# The leak check must be live and the suppressions must not hide an addon's leak: the canary
# addon (built above) leaks 4242 bytes and has to be reported.
if node -e "require('./canary.node').leak()" >canary.log 2>&1 || ! grep -q 'canary_leak' canary.log; then
	echo "asan.sh: the leak canary was not reported; leak checking is not working" >&2
	cat canary.log >&2
	exit 1
fi
echo "asan.sh: leak canary reported as it should be; running the suite"

# Serial (--no-parallel): the leak check runs in the mocha process only, not in its workers.
node --require "$here/children.js" node_modules/mocha/bin/mocha.js --no-parallel "$@"
